//! The amqprs side of the `vs-amqprs` benchmark: one publisher and one consumer (auto
//! acknowledgement) on their own connections through RabbitMQ, COUNT messages of SIZE bytes,
//! with publisher confirms (at most WINDOW unconfirmed) or without. Prints one JSON line:
//! messages received and seconds from the first publish to the last delivery.
//!
//! `amqprs-client HOST PORT QUEUE COUNT SIZE CONFIRM(0|1) WINDOW`

use amqprs::callbacks::{ChannelCallback, DefaultConnectionCallback};
use amqprs::channel::{
    BasicConsumeArguments, BasicPublishArguments, Channel, ConfirmSelectArguments,
    QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Counts confirms (tags are consecutive from 1; `multiple` confirms every earlier tag).
struct Confirms {
    upto: Arc<AtomicU64>,
    single: u64,
    notify: Arc<Notify>,
}

#[async_trait::async_trait]
impl ChannelCallback for Confirms {
    async fn close(&mut self, _: &Channel, _: CloseChannel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        if ack.mutiple() {
            self.upto.fetch_max(ack.delivery_tag(), Ordering::Relaxed);
        } else {
            // Out-of-order single confirms are rare here; count them toward the total.
            self.single += 1;
            self.upto.fetch_max(ack.delivery_tag(), Ordering::Relaxed);
        }
        self.notify.notify_one();
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        eprintln!("amqprs-client: nack for {}", nack.delivery_tag());
        self.upto.fetch_max(nack.delivery_tag(), Ordering::Relaxed);
        self.notify.notify_one();
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

async fn channel(host: &str, port: u16) -> (Connection, Channel) {
    let conn = Connection::open(&OpenConnectionArguments::new(host, port, "guest", "guest"))
        .await
        .expect("connect");
    conn.register_callback(DefaultConnectionCallback)
        .await
        .expect("callback");
    let ch = conn.open_channel(None).await.expect("channel");
    (conn, ch)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 8 {
        eprintln!("usage: amqprs-client HOST PORT QUEUE COUNT SIZE CONFIRM(0|1) WINDOW");
        std::process::exit(2);
    }
    let (host, port, queue) = (a[1].clone(), a[2].parse::<u16>().unwrap(), a[3].clone());
    let count: u64 = a[4].parse().unwrap();
    let size: usize = a[5].parse().unwrap();
    let confirm = a[6] == "1";
    let window: u64 = a[7].parse().unwrap();

    let (rx_conn, rx_ch) = channel(&host, port).await;
    rx_ch
        .queue_declare(QueueDeclareArguments::new(&queue))
        .await
        .expect("declare");
    let args = BasicConsumeArguments::new(&queue, "bench")
        .manual_ack(false)
        .finish();
    let (_tag, mut deliveries) = rx_ch.basic_consume_rx(args).await.expect("consume");

    let (tx_conn, tx_ch) = channel(&host, port).await;
    let upto = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(Notify::new());
    if confirm {
        tx_ch
            .register_callback(Confirms {
                upto: upto.clone(),
                single: 0,
                notify: notify.clone(),
            })
            .await
            .expect("callback");
        tx_ch
            .confirm_select(ConfirmSelectArguments::default())
            .await
            .expect("confirm.select");
    }
    let body = vec![0x5a_u8; size];
    let start = Instant::now();
    let publisher = tokio::spawn(async move {
        for i in 1..=count {
            while confirm && i - upto.load(Ordering::Relaxed) > window {
                notify.notified().await;
            }
            tx_ch
                .basic_publish(
                    BasicProperties::default(),
                    body.clone(),
                    BasicPublishArguments::new("", &queue),
                )
                .await
                .expect("publish");
        }
        (tx_conn, tx_ch)
    });
    let mut got = 0u64;
    while got < count {
        match tokio::time::timeout(std::time::Duration::from_secs(30), deliveries.recv()).await {
            Ok(Some(_)) => got += 1,
            _ => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let Ok((tx_conn, _tx_ch)) = publisher.await {
        let _ = tx_conn.close().await;
    }
    let _ = rx_conn.close().await;
    println!("{{\"received\":{got},\"seconds\":{secs:.6}}}");
}
