//! The local server: the Lambdas' own routers and delivery code, wired to
//! the embedded store and queue, with an embedded consumer playing the SQS
//! event source mapping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use courier::config::Settings;
use courier::credentials::{BearerSecret, CredentialStore, MAX_PORTAL_SESSION, PortalSession};
use courier::embedded::{Consumer, EmbeddedQueue, EmbeddedStore, QueueSettings};
use courier::event_type::EventType;
use courier::ports::{EventTypeStore, StoreError};
use courier_api::ApiState;
use courier_api::auth::AdminAuth;
use courier_api::portal::{PortalSettings, session_url};
use courier_delivery::Deliverer;
use courier_intake::Intake;
use rand::RngCore;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::quickstart;

/// The marketplace catalogue the local server starts with.
const SEED_EVENT_TYPES: &[(&str, &str)] = &[
    ("order.created", "A buyer placed an order."),
    ("seller.registered", "A new seller joined the marketplace."),
    ("booking.created", "A booking was requested."),
    (
        "booking.payment_succeeded",
        "A booking's payment went through.",
    ),
    ("booking.cancelled", "A booking was cancelled."),
    ("booking.declined", "A seller declined a booking."),
    (
        "webhook.test",
        "A test event sent from the API to check an endpoint.",
    ),
];

/// Runs until Ctrl-C or SIGTERM.
pub async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    // Local development targets are loopback receivers, so private targets
    // are allowed unless the variable says otherwise.
    let mut settings = Settings::from_env()?;
    if std::env::var("ALLOW_PRIVATE_TARGETS").is_err() {
        settings.allow_private_targets = true;
    }
    let listen: SocketAddr = std::env::var("LISTEN_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()
        .map_err(|e| format!("environment variable LISTEN_ADDR: {e}"))?;
    let (token, generated) = match std::env::var("ADMIN_TOKEN") {
        Ok(t) if !t.trim().is_empty() => (t, false),
        _ => {
            let mut bytes = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            (format!("local_{}", hex::encode(bytes)), true)
        }
    };
    let auth = AdminAuth::from_token(&token);
    let portal = PortalSettings::from_env()?;

    let store = Arc::new(EmbeddedStore::new());
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        ..QueueSettings::default()
    }));
    seed(store.as_ref()).await?;

    let intake = Arc::new(Intake::new(store.clone(), queue.clone(), settings.clone()));
    let deliverer = Arc::new(Deliverer::new(
        store.clone(),
        queue.clone(),
        settings.clone(),
    )?);
    let api = ApiState::new(store.clone(), queue.clone(), settings.clone(), auth)
        .with_portal(portal.clone());
    let app = courier_api::finish(
        courier_api::routes(api.clone())
            .merge(courier_intake::routes(intake, settings.max_payload_bytes)),
        api,
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let consumer = tokio::spawn(Consumer::new(queue.clone()).run(
        move |batch| {
            let deliverer = deliverer.clone();
            async move { deliverer.handle_batch(&batch).await }
        },
        stop_rx,
    ));

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} (LISTEN_ADDR): {e}"))?;
    let addr = listener.local_addr()?;
    let portal_url = demo_portal(store.as_ref(), &portal, addr).await?;
    print_banner(addr, &token, generated, &settings, &portal_url);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            shutdown_signal().await;
            eprintln!("\nshutting down…");
        })
        .await?;
    let _ = stop_tx.send(true);
    let _ = consumer.await;
    Ok(())
}

async fn seed(store: &EmbeddedStore) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    for (name, description) in SEED_EVENT_TYPES {
        let event_type = EventType {
            name: name
                .parse()
                .map_err(|e: courier::event_type::EventTypeError| StoreError::Unavailable(e.0))?,
            description: (*description).into(),
            created_at: now,
        };
        store.create_event_type(&event_type).await?;
    }
    Ok(())
}

/// A portal session of the quickstart's tenant, so the panel is one click
/// away; the longest a session may last, since the data lives only as long
/// as the process.
async fn demo_portal(
    store: &EmbeddedStore,
    portal: &PortalSettings,
    addr: SocketAddr,
) -> Result<String, StoreError> {
    let now = OffsetDateTime::now_utc();
    let session = PortalSession {
        tenant_id: quickstart::TENANT
            .parse()
            .map_err(|e: courier::ids::IdError| StoreError::Unavailable(e.0))?,
        read_only: false,
        created_at: now,
        expires_at: now + MAX_PORTAL_SESSION,
    };
    let token = BearerSecret::portal_token();
    store.create_portal_session(&session, &token.hash()).await?;
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(host) = addr.to_string().parse() {
        headers.insert(axum::http::header::HOST, host);
    }
    Ok(session_url(portal, &headers, token.expose()))
}

fn print_banner(
    addr: SocketAddr,
    token: &str,
    generated: bool,
    settings: &Settings,
    portal_url: &str,
) {
    let base = format!("http://{addr}");
    let origin = if generated {
        "generated; set ADMIN_TOKEN to choose one"
    } else {
        "from ADMIN_TOKEN"
    };
    let quickstart = quickstart::script(&base, token);
    println!(
        r#"
Courier is running on {base}  (embedded storage and queue; data lives in memory)
  admin token ({origin}): {token}
  webhooks panel of tenant {tenant} (7 days): {portal_url}
  retry schedule: {schedule} s · timeout: {timeout} ms · disable after {disable} failures · private targets allowed: {private}
  (RETRY_SCHEDULE=5,30 shows retries sooner; README.md lists every variable)

Quickstart: paste into a second terminal, in this repository (needs curl)

{quickstart}
Ctrl-C stops the server.
"#,
        schedule = settings.retry_schedule,
        timeout = settings.delivery_timeout.as_millis(),
        disable = settings.disable_after_failures,
        private = settings.allow_private_targets,
        tenant = quickstart::TENANT,
    );
}

/// Ctrl-C, or SIGTERM (`kill`, `docker stop`).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
