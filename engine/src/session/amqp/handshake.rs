//! The handshake: the client's SASL exchange and pipelined `open`, `begin` and `attach`
//! (§5.3, §2.4.1, §2.5.2, §2.6.3), and the accepting end's answers to a client's headers.

use super::*;

impl AmqpSession {
    /// Open, begin and attach, pipelined after the AMQP header (§2.4.1, §2.5.2, §2.6.3).
    pub(super) fn write_open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&AMQP_HEADER);
        let mut open = Open::new(&self.cfg.container_id);
        open.hostname = Some(&self.cfg.hostname);
        open.max_frame_size = self.cfg.max_frame;
        open.channel_max = 0;
        open.idle_time_out = Some(self.cfg.idle_timeout_ms);
        encode_frame(0, &Performative::Open(open), &[], out);
        let begin = Begin::new(0, INCOMING_WINDOW, OUTGOING_WINDOW);
        encode_frame(0, &Performative::Begin(begin), &[], out);
        let name = format!("{}-link", self.cfg.container_id);
        let mut attach = Attach::new(&name, 0, self.role());
        match self.link {
            Link::Sender(_) => {
                attach.snd_settle_mode = if self.cfg.presettled {
                    SenderSettleMode::Settled
                } else {
                    SenderSettleMode::Unsettled
                };
                attach.source = Some(Source::new(&self.cfg.container_id));
                attach.target = Some(Target::new(&self.cfg.address));
                attach.initial_delivery_count = Some(0);
            }
            Link::Receiver(_) => {
                attach.rcv_settle_mode = ReceiverSettleMode::First;
                attach.source = Some(Source::new(&self.cfg.address));
                attach.target = Some(Target::new(&self.cfg.container_id));
            }
        }
        encode_frame(0, &Performative::Attach(attach), &[], out);
    }

    /// The peer's protocol header (§2.2, §5.3.1). A client expects the one it sent; a server
    /// answers the client's: SASL mechanisms after a SASL header, the AMQP header after an
    /// AMQP one.
    pub(super) fn on_header(
        &mut self,
        h: ProtocolHeader,
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        match (self.state, h.id) {
            (State::AwaitSaslHeader, ProtocolId::Sasl) => self.state = State::AwaitMechanisms,
            (State::AwaitAmqpHeader, ProtocolId::Amqp) => self.state = State::AwaitOpen,
            (State::AwaitSaslHeader | State::AwaitAmqpHeader, _) => {
                return Err(SessionError::Refused(format!(
                    "the peer answered with protocol header {h:?}"
                )));
            }
            (State::SrvAwaitHeader, ProtocolId::Sasl) => {
                out.extend_from_slice(&SASL_HEADER);
                let offered = ["ANONYMOUS", "PLAIN"];
                encode_sasl_frame(&SaslFrame::Mechanisms(Symbols::List(&offered)), out);
                self.state = State::SrvAwaitInit;
            }
            (State::SrvAwaitHeader | State::SrvAwaitAmqpHeader, ProtocolId::Amqp) => {
                out.extend_from_slice(&AMQP_HEADER);
                self.state = State::AwaitOpen;
            }
            (_, id) => {
                // §2.2: answer with the header we support, then close the socket.
                out.extend_from_slice(&AMQP_HEADER);
                return Err(SessionError::Protocol(format!(
                    "client asked for protocol {id:?}"
                )));
            }
        }
        Ok(())
    }

    pub(super) fn on_sasl(
        &mut self,
        frame: SaslFrame<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        match (self.state, frame) {
            (State::SrvAwaitInit, SaslFrame::Init { mechanism, .. }) => {
                // Anyone is welcome: this end only measures.
                let code = if matches!(mechanism, "ANONYMOUS" | "PLAIN") {
                    0
                } else {
                    1
                };
                encode_sasl_frame(
                    &SaslFrame::Outcome {
                        code,
                        additional_data: None,
                    },
                    out,
                );
                if code != 0 {
                    return Err(SessionError::Refused(format!(
                        "client chose unsupported SASL mechanism {mechanism}"
                    )));
                }
                self.state = State::SrvAwaitAmqpHeader;
            }
            (State::AwaitMechanisms, SaslFrame::Mechanisms(offered)) => {
                let creds = self
                    .cfg
                    .username
                    .as_deref()
                    .zip(self.cfg.password.as_deref());
                let mut buf = Vec::new();
                let (mechanism, response) = match creds {
                    Some((u, p)) if offered.contains("PLAIN") => {
                        ("PLAIN", Some(plain_response(u, p, &mut buf)))
                    }
                    None if offered.contains("ANONYMOUS") => ("ANONYMOUS", None),
                    _ => {
                        let names: Vec<&str> = offered.iter().filter_map(Result::ok).collect();
                        return Err(SessionError::Refused(format!(
                            "SASL: no usable mechanism among {names:?} ({})",
                            if creds.is_some() {
                                "PLAIN wanted"
                            } else {
                                "ANONYMOUS wanted; give user:password in the URL"
                            }
                        )));
                    }
                };
                let init = SaslFrame::Init {
                    mechanism,
                    initial_response: response,
                    hostname: Some(&self.cfg.hostname),
                };
                encode_sasl_frame(&init, out);
                self.state = State::AwaitOutcome;
            }
            (State::AwaitOutcome, SaslFrame::Outcome { code, .. }) => {
                if code != 0 {
                    let why = match code {
                        1 => "authentication failed",
                        2 => "system error",
                        3 => "permanent system error",
                        4 => "temporary system error",
                        _ => "refused",
                    };
                    return Err(SessionError::Refused(format!("SASL outcome {code}: {why}")));
                }
                self.write_open(out);
                self.state = State::AwaitAmqpHeader;
            }
            (State::AwaitOutcome, SaslFrame::Challenge(_)) => {
                return Err(SessionError::Protocol(
                    "SASL challenge for a mechanism without one".into(),
                ))
            }
            (state, f) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected SASL frame {f:?} in state {state:?}"
                )))
            }
        }
        Ok(())
    }

    /// Whether a handshake performative is what the connection waits for now.
    pub(super) fn in_handshake(&self) -> bool {
        matches!(
            self.state,
            State::AwaitOpen | State::AwaitBegin | State::AwaitAttach
        )
    }

    /// `open`, `begin` and `attach` from the peer (§2.4.1, §2.5.2, §2.6.3): the peer's frame
    /// size and idle time-out, the session window, the link's terminus or its refusal. The
    /// accepting end answers each.
    pub(super) fn on_handshake(
        &mut self,
        channel: u16,
        p: Performative<'_>,
        now: Nanos,
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        match p {
            Performative::Open(o) if self.state == State::AwaitOpen => {
                self.peer_max_frame = o.max_frame_size.max(512);
                self.heartbeat = o
                    .idle_time_out
                    .filter(|&t| t > 0)
                    .map(|t| i64::from(t) * 1_000_000 / 2);
                if self.server {
                    let mut open = Open::new(&self.cfg.container_id);
                    open.max_frame_size = self.cfg.max_frame;
                    open.channel_max = 0;
                    open.idle_time_out = Some(self.cfg.idle_timeout_ms);
                    encode_frame(0, &Performative::Open(open), &[], out);
                }
                self.state = State::AwaitBegin;
            }
            Performative::Begin(b) if self.state == State::AwaitBegin => {
                self.next_incoming_id = b.next_outgoing_id;
                self.remote_incoming_window = b.incoming_window;
                if self.server {
                    let mut begin = Begin::new(0, INCOMING_WINDOW, OUTGOING_WINDOW);
                    begin.remote_channel = Some(channel);
                    encode_frame(0, &Performative::Begin(begin), &[], out);
                }
                self.state = State::AwaitAttach;
            }
            Performative::Attach(a) if self.state == State::AwaitAttach && self.server => {
                if a.role != Role::Sender {
                    return Err(SessionError::Protocol(
                        "the peer-to-peer receiver only accepts sending links".into(),
                    ));
                }
                let mut reply = Attach::new(a.name, 0, Role::Receiver);
                reply.snd_settle_mode = a.snd_settle_mode;
                reply.rcv_settle_mode = ReceiverSettleMode::First;
                reply.source = a.source;
                reply.target = a.target.or(Some(Target::new("allegro")));
                encode_frame(0, &Performative::Attach(reply), &[], out);
                if let Link::Receiver(r) = &mut self.link {
                    r.delivery_count = a.initial_delivery_count.unwrap_or(0);
                }
                self.write_credit(false, now, out);
                self.state = State::Ready;
            }
            Performative::Attach(a) if self.state == State::AwaitAttach => {
                let refused = match self.link {
                    Link::Sender(_) => a.target.is_none(),
                    Link::Receiver(_) => a.source.is_none(),
                };
                if refused {
                    self.state = State::Refused;
                    return Ok(());
                }
                self.state = State::Ready;
                match &mut self.link {
                    Link::Receiver(r) => {
                        r.delivery_count = a.initial_delivery_count.unwrap_or(0);
                        self.write_credit(false, now, out);
                    }
                    // Started before the handshake ended: run at once.
                    Link::Sender(s) if s.load.started() => self.state = State::Running,
                    Link::Sender(_) => {}
                }
            }
            other => {
                let name = match other {
                    Performative::Open(_) => "open",
                    Performative::Begin(_) => "begin",
                    _ => "attach",
                };
                return Err(SessionError::Protocol(format!(
                    "unexpected {name} in state {:?}",
                    self.state
                )));
            }
        }
        Ok(())
    }
}
