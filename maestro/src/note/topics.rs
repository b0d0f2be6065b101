//! Maestro topics (§2.2), who subscribes to what (§2.3) and the QoS each
//! note is published with (§2.4). Pure functions; no MQTT wildcards are
//! used anywhere in the protocol.

use allegro_wire::mqtt::QoS;

use super::codes::Role;
use super::model::{Body, Note, Notification, Response};

/// All responses from peers (OK, errors, ping/stats/get/user-command).
pub const RESPONSES: &str = "/mpt/maestro";
/// Notifications from peers (test started/succeeded/failed, drain complete).
pub const NOTIFICATIONS: &str = "/mpt/notifications";
/// Data notes: result-file chunks.
pub const LOGS: &str = "/mpt/logs";
/// Broadcast to every peer (ping, start-test, halt, get).
pub const ALL_PEERS: &str = "/mpt/peer";
/// Broadcast to every worker daemon (stats, stop-all).
pub const WORKERS: &str = "/mpt/peer/worker";
/// Prefix of a Java peer's MQTT client id, which is also its `id` (§1.2).
pub const PEER_ID_PREFIX: &str = "maestro.exchange.";

/// QoS of the topics a peer or client subscribes at start-up (§2.3).
pub const STARTUP_SUBSCRIBE_QOS: QoS = QoS::AtLeastOnce;
/// QoS of the role and group topics a worker adds later (§2.3).
pub const ROLE_GROUP_SUBSCRIBE_QOS: QoS = QoS::AtMostOnce;

/// A peer id / client id from a UUID string: `maestro.exchange.<uuid>`.
pub fn peer_id(uuid: &str) -> String {
    format!("{PEER_ID_PREFIX}{uuid}")
}

/// The private topic of one peer: `/mpt/peer/by-id/<id>`.
pub fn by_id(id: &str) -> String {
    format!("/mpt/peer/by-id/{id}")
}

/// A role topic, e.g. `/mpt/peer/by-role/sender`.
pub fn by_role(role: Role) -> String {
    format!("/mpt/peer/by-role/{}", role.name())
}

/// A name topic, `/mpt/peer/by-name/<host>/<name>/` (note the trailing
/// slash); only inspector, agent and reports server subscribe.
pub fn by_name(host: &str, name: &str) -> String {
    format!("/mpt/peer/by-name/{host}/{name}/")
}

/// A group topic, `/mpt/peer/by-group/<groupName>/<memberName>`.
pub fn by_group(group_name: &str, member_name: &str) -> String {
    format!("/mpt/peer/by-group/{group_name}/{member_name}")
}

/// What a worker subscribes at start-up: its private topic, the worker
/// topic and the all-peers topic, at QoS 1 (§2.3).
pub fn worker_subscriptions(id: &str) -> [(String, QoS); 3] {
    [
        (by_id(id), STARTUP_SUBSCRIBE_QOS),
        (WORKERS.to_owned(), STARTUP_SUBSCRIBE_QOS),
        (ALL_PEERS.to_owned(), STARTUP_SUBSCRIBE_QOS),
    ]
}

/// What a client subscribes: responses and notifications, at QoS 1 (§2.3).
pub const CLIENT_SUBSCRIPTIONS: [(&str, QoS); 2] = [
    (RESPONSES, STARTUP_SUBSCRIBE_QOS),
    (NOTIFICATIONS, STARTUP_SUBSCRIBE_QOS),
];

/// Where a peer publishes `note`: [`RESPONSES`], [`NOTIFICATIONS`] or
/// [`LOGS`] by note type (§2.2); `None` for requests, whose topic is the
/// target's.
pub fn peer_topic(note: &Note) -> Option<&'static str> {
    match note.body {
        Body::Request(_) => None,
        Body::Response { .. } => Some(RESPONSES),
        Body::Notification { .. } => Some(NOTIFICATIONS),
        Body::Data { .. } => Some(LOGS),
    }
}

/// The QoS Java publishes `note` with (§2.4), retain always false. Notes
/// the table does not list (PROTOCOL_ERROR, USER_COMMAND_1 response,
/// ABNORMAL_DISCONNECT, none of which Java workers send) get QoS 1.
pub fn publish_qos(note: &Note) -> QoS {
    match &note.body {
        Body::Request(_) => QoS::AtLeastOnce,
        Body::Response { response, .. } => match response {
            Response::Ping { .. } | Response::Stats(_) | Response::Get { .. } => QoS::AtMostOnce,
            Response::Ok
            | Response::InternalError { .. }
            | Response::ProtocolError
            | Response::UserCommand1 { .. } => QoS::AtLeastOnce,
        },
        Body::Notification { notification, .. } => match notification {
            Notification::TestStarted { .. }
            | Notification::TestSuccessful { .. }
            | Notification::TestFailed { .. } => QoS::ExactlyOnce,
            Notification::DrainComplete { .. } | Notification::AbnormalDisconnect { .. } => {
                QoS::AtLeastOnce
            }
        },
        Body::Data { .. } => QoS::ExactlyOnce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_strings() {
        let id = peer_id("1d7b6f0e-5c3a-4b2e-9f8d-a1b2c3d4e5f6");
        assert_eq!(id, "maestro.exchange.1d7b6f0e-5c3a-4b2e-9f8d-a1b2c3d4e5f6");
        assert_eq!(id.len(), 53);
        assert_eq!(
            by_id(&id),
            "/mpt/peer/by-id/maestro.exchange.1d7b6f0e-5c3a-4b2e-9f8d-a1b2c3d4e5f6"
        );
        assert_eq!(by_role(Role::Sender), "/mpt/peer/by-role/sender");
        assert_eq!(by_role(Role::Receiver), "/mpt/peer/by-role/receiver");
        assert_eq!(
            by_role(Role::ReportsServer),
            "/mpt/peer/by-role/reports-server"
        );
        assert_eq!(
            by_name("host-1", "inspector"),
            "/mpt/peer/by-name/host-1/inspector/"
        );
        assert_eq!(by_group("all", "m1"), "/mpt/peer/by-group/all/m1");
        let subs = worker_subscriptions(&id);
        assert_eq!(subs[0].0, by_id(&id));
        assert_eq!(subs[1].0, "/mpt/peer/worker");
        assert_eq!(subs[2].0, "/mpt/peer");
        assert!(subs.iter().all(|(_, q)| *q == QoS::AtLeastOnce));
        assert_eq!(CLIENT_SUBSCRIPTIONS[0].0, "/mpt/maestro");
        assert_eq!(CLIENT_SUBSCRIPTIONS[1].0, "/mpt/notifications");
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
            assert_eq!(Role::from_code(role.code()), role);
        }
    }
}
