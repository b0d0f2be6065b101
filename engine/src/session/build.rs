//! Session construction: the session a connection of a plan gets (protocol, role, settings,
//! client id) and its receive coalescing window.

use crate::clock::Nanos;
use crate::plan::{
    Amqp091Options, Amqp091Target, AmqpOptions, MqttOptions, Plan, ProtocolPlan, StompOptions,
};
use crate::session::amqp::{AmqpConfig, AmqpSession};
use crate::session::amqp091::{Amqp091Config, Amqp091Session};
use crate::session::load::SenderPlan;
use crate::session::mqtt::{MqttConfig, MqttSession};
use crate::session::stomp::{StompConfig, StompSession};
use crate::session::AnySession;
use crate::shard::ConnSpec;

/// The receive coalescing window of a connection: the plan's. A sender's reads are
/// acknowledgements (confirms, receipts, PUBACKs, dispositions); they count as its stream's
/// messages, so a sender whose acknowledgements stream in at least as fast as a busy receiver's
/// messages reads them once per window too (its window of unacknowledged messages is far
/// larger than a window's worth of them).
pub fn rx_window(plan: &Plan, _spec: ConnSpec) -> Nanos {
    plan.rx_coalesce
}

/// The session for one connection of the plan: its protocol, role and settings.
pub fn session_for(plan: &Plan, spec: ConnSpec) -> AnySession {
    let (kind, id) = match spec {
        ConnSpec::Sender(i) => ('s', i),
        ConnSpec::Receiver(i) | ConnSpec::Accept(i) => ('r', i),
    };
    let client_id = format!("allegro-{:08x}-{kind}{id}", plan.run.sender);
    match &plan.protocol {
        ProtocolPlan::Mqtt(m) => AnySession::Mqtt(make_mqtt(plan, m, spec, client_id)),
        ProtocolPlan::Amqp(a) => AnySession::Amqp(make_amqp(plan, a, spec, client_id)),
        ProtocolPlan::Stomp(s) => AnySession::Stomp(make_stomp(plan, s, spec)),
        ProtocolPlan::Amqp091(a) => AnySession::Amqp091(make_amqp091(plan, a, spec, client_id)),
    }
}

/// What a sender connection `i` of the plan sends.
fn sender_plan(plan: &Plan, i: u32) -> SenderPlan {
    SenderPlan {
        rate: plan.shape.rate,
        duration: plan.shape.duration,
        size: plan.shape.size,
        run_id: plan.run.run,
        sender_id: plan.run.sender,
        connection_id: i,
    }
}

fn make_mqtt(plan: &Plan, m: &MqttOptions, spec: ConnSpec, client_id: String) -> MqttSession {
    let base = plan.url.path.trim_start_matches('/');
    let topic = if base.is_empty() { "allegro" } else { base };
    let (_, max_size) = plan.shape.size.bounds();
    let cfg = MqttConfig {
        protocol: m.protocol,
        qos: m.qos,
        keep_alive_secs: m.keep_alive_secs,
        client_id,
        username: plan.url.username.clone(),
        password: plan.url.password.clone(),
        topic: topic.to_owned(),
        inflight: m.inflight,
        // Body plus topic, header and properties, with room to spare.
        max_packet: max_size as usize + topic.len() + 1024,
    };
    match spec {
        ConnSpec::Sender(i) => MqttSession::sender(cfg, sender_plan(plan, i)),
        ConnSpec::Receiver(_) | ConnSpec::Accept(_) => {
            MqttSession::receiver(cfg, plan.drain_idle, plan.run.only())
        }
    }
}

fn make_amqp(plan: &Plan, a: &AmqpOptions, spec: ConnSpec, container_id: String) -> AmqpSession {
    let address = crate::plan::amqp_address(&plan.url.path);
    let cfg = AmqpConfig {
        container_id,
        hostname: plan.url.host.clone(),
        address: if address.is_empty() {
            "allegro".into()
        } else {
            address
        },
        username: plan.url.username.clone(),
        password: plan.url.password.clone(),
        presettled: a.presettled,
        credit: a.credit,
        inflight: a.inflight,
        max_frame: 1 << 20,
        idle_timeout_ms: 30_000,
        durable: a.durable,
        ttl_ms: a.ttl_ms,
        priority: a.priority,
    };
    match spec {
        ConnSpec::Sender(i) => AmqpSession::sender(cfg, sender_plan(plan, i)),
        ConnSpec::Receiver(_) => AmqpSession::receiver(cfg, plan.drain_idle, plan.run.only()),
        ConnSpec::Accept(_) => AmqpSession::server(cfg, plan.drain_idle, plan.run.only()),
    }
}

fn make_stomp(plan: &Plan, o: &StompOptions, spec: ConnSpec) -> StompSession {
    let (_, max_size) = plan.shape.size.bounds();
    let cfg = StompConfig {
        destination: crate::plan::stomp_destination(&plan.url.path),
        vhost: o.vhost.clone(),
        username: plan.url.username.clone(),
        password: plan.url.password.clone(),
        receipt_every: o.receipt_every,
        inflight: o.inflight,
        ack: o.ack,
        prefetch: o.prefetch,
        persistent: o.persistent,
        heartbeat_ms: o.heartbeat_ms,
        // Body plus the broker's headers, with room to spare.
        max_frame: max_size as usize + 16 * 1024,
    };
    match spec {
        ConnSpec::Sender(i) => StompSession::sender(cfg, sender_plan(plan, i)),
        ConnSpec::Receiver(_) | ConnSpec::Accept(_) => {
            StompSession::receiver(cfg, plan.drain_idle, plan.run.only())
        }
    }
}

fn make_amqp091(plan: &Plan, o: &Amqp091Options, spec: ConnSpec, name: String) -> Amqp091Session {
    let cfg = Amqp091Config {
        target: Amqp091Target::from_path(&plan.url.path),
        vhost: o.vhost.clone(),
        username: plan.url.username.clone().unwrap_or_else(|| "guest".into()),
        password: plan.url.password.clone().unwrap_or_else(|| "guest".into()),
        connection_name: name,
        confirm: o.confirm,
        inflight: o.inflight,
        manual_ack: o.manual_ack,
        prefetch: o.prefetch,
        durable: o.durable,
        passive: o.passive,
        exchange_type: o.exchange_type.clone(),
        persistent: o.persistent,
        mandatory: o.mandatory,
        heartbeat_s: o.heartbeat_s,
        // RabbitMQ's default; larger bodies go over several frames.
        frame_max: 128 * 1024,
    };
    match spec {
        ConnSpec::Sender(i) => Amqp091Session::sender(cfg, sender_plan(plan, i)),
        ConnSpec::Receiver(_) | ConnSpec::Accept(_) => {
            Amqp091Session::receiver(cfg, plan.drain_idle, plan.run.only())
        }
    }
}
