//! Builds everything one configuration needs to serve — mapping, application client, id store,
//! caches, discovery documents, token verifier — once, off the request path; and serves it in the
//! background (demo, tests), fixed or reloadable.

use crate::app_client::{AppClient, ClientSettings};
use crate::auth::TokenVerifier;
use crate::config::{Config, StoreSettings};
use crate::ids::{FileStore, IdCache, IdStore, MemoryStore, Names};
use crate::mapping::{self, Mapping};
use crate::provision::{Provisioner, Shared};
use crate::reload::{Health, Reloadable};
use crate::routes::ServiceState;
use crate::scim::ResourceKind;
use crate::scim::discovery::{Advertised, Discovery, Features};
use crate::scim::filter::AttrPath;
use std::sync::Arc;

/// Loads the mapping named by the config (reporting every problem at once).
pub fn load_mapping(config: &Config) -> Result<Mapping, String> {
    mapping::load_mapping(&config.mapping_file, config.app_base_url.as_deref())
        .map_err(|e| e.to_string())
}

/// Opens the id store the config names.
pub fn open_store(settings: &StoreSettings) -> Result<Arc<dyn IdStore>, String> {
    Ok(match settings {
        StoreSettings::Memory => Arc::new(MemoryStore::new()),
        StoreSettings::File(path) => Arc::new(
            FileStore::open(path).map_err(|e| format!("store.path {}: {e}", path.display()))?,
        ),
    })
}

/// The application client for a mapping's `[app]` settings (also used by `check`, so that it
/// probes with exactly the server's headers, auth, timeouts and retries).
pub fn app_client(app: &mapping::AppSettings) -> Result<AppClient, String> {
    AppClient::new(ClientSettings {
        base_url: app.base_url.clone(),
        headers: app
            .headers
            .iter()
            .map(|(name, value, secret)| (name.clone(), value.expose().to_string(), *secret))
            .collect(),
        timeout: app.timeout,
        connect_timeout: app.connect_timeout,
        retries: app.retries,
    })
}

/// Builds the service state from a config and an already-loaded mapping, opening the store.
pub fn build_state(config: &Config, mapping: Mapping) -> Result<Arc<ServiceState>, String> {
    build_state_with(
        config,
        Arc::new(mapping),
        open_store(&config.store)?,
        Arc::new(Health::new()),
    )
}

/// Builds the service state around an existing store and health record (what survives a
/// reload, see [`crate::reload`]); caches and clients are new.
pub fn build_state_with(
    config: &Config,
    mapping: Arc<Mapping>,
    store: Arc<dyn IdStore>,
    health: Arc<Health>,
) -> Result<Arc<ServiceState>, String> {
    let client = app_client(&mapping.app)?;
    let shared = Shared {
        mapping: mapping.clone(),
        client,
        store,
        names: Names::new(&config.cache),
        public_url: config.server.public_url.clone(),
    };
    // One IdCache per kind (see crate::ids::cache): ids of different kinds may coincide.
    let users = Provisioner::new(
        ResourceKind::User,
        &shared,
        IdCache::new(&config.cache),
        None,
    )
    .map(Arc::new)
    .ok_or("the mapping has no users")?;
    let groups = Provisioner::new(
        ResourceKind::Group,
        &shared,
        IdCache::new(&config.cache),
        Some(users.clone()),
    );
    let discovery = discovery_for(config, &mapping);
    Ok(Arc::new(ServiceState {
        settings: config.server.clone(),
        verifier: TokenVerifier::new(&config.auth),
        discovery,
        users,
        groups,
        health,
    }))
}

/// Discovery documents advertising what the mapping serves: its resource types, their mapped
/// attributes, and the features its endpoints allow.
fn discovery_for(config: &Config, mapping: &Mapping) -> Discovery {
    let rules = &mapping.users.rules;
    let writable = |m: &mapping::ResourceMapping| m.update.is_some() || m.deactivate.is_some();
    let features = Features {
        patch: writable(&mapping.users)
            || mapping
                .groups
                .as_ref()
                .is_some_and(|g| writable(g) || g.members.is_some()),
        filter_max_results: config.server.max_results,
        change_password: rules.rules.iter().any(|r| {
            !r.read_only
                && r.scim_text
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("password"))
        }),
        etag: false,
        documentation_uri: None,
    };
    // `members` and a user's `groups` are served by the sidecar, not by attribute rules.
    let references = |name: &str| {
        ["value", "$ref", "display", "type"].map(|sub| AttrPath {
            urn: None,
            name: name.into(),
            sub: Some(sub.into()),
        })
    };
    let mut user_attributes = mapping.users.advertised();
    if mapping.user_group_field().is_some() {
        user_attributes.extend(references("groups"));
    }
    let mut advertised = vec![Advertised {
        kind: ResourceKind::User,
        schema: mapping.users.schema,
        attributes: user_attributes,
        required: mapping.users.required(),
    }];
    if let Some(groups) = &mapping.groups {
        let mut attributes = groups.advertised();
        if groups.members.is_some() {
            attributes.extend(references("members"));
        }
        advertised.push(Advertised {
            kind: ResourceKind::Group,
            schema: groups.schema,
            attributes,
            required: groups.required(),
        });
    }
    Discovery::build(&features, &advertised, &config.server.public_url)
}

/// A sidecar serving in the background (demo, tests): its address and a way to stop it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, drains in-flight requests (within the grace time), and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server ends on its own (e.g. on a signal, see [`crate::server`]).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Serves `state` on `listener` in a background task until [`Running::stop`] or `also_stop_on`
/// completes.
pub fn spawn(
    listener: tokio::net::TcpListener,
    state: Arc<ServiceState>,
    also_stop_on: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<Running> {
    let grace = state.settings.shutdown_grace;
    spawn_services(
        listener,
        crate::stack::build(state).into(),
        grace,
        also_stop_on,
    )
}

/// Serves a reloadable configuration in the background: each request runs on the generation
/// current when it starts.
pub fn spawn_reloadable(
    listener: tokio::net::TcpListener,
    reloadable: &Reloadable,
    grace: std::time::Duration,
    also_stop_on: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<Running> {
    spawn_services(listener, reloadable.services(), grace, also_stop_on)
}

fn spawn_services(
    listener: tokio::net::TcpListener,
    service: crate::server::Services,
    grace: std::time::Duration,
    also_stop_on: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = rx => {},
                () = also_stop_on => {},
            }
        };
        crate::server::run(listener, service, shutdown, grace).await;
    });
    Ok(Running {
        addr,
        stop: Some(tx),
        task,
    })
}
