//! The provisioning engine: turns each SCIM operation on a resource type into application calls
//! through the loaded mapping, and the application's answers back into SCIM.
//!
//! Only this module joins protocol ([`crate::scim`]), mapping ([`crate::mapping`]), ids
//! ([`crate::ids`]) and the client ([`crate::app_client`]). Submodules:
//! - [`app_calls`]: rendering and sending mapping endpoints, reading records and pages out of
//!   answers;
//! - [`convert`]: application record → SCIM resource (rules, hook, ids, kept attributes, meta);
//! - [`list`]: list and filter planning (id lookups, cache, pushdown, bounded scans, paging);
//! - [`write`]: create, replace, patch and delete, with deactivation semantics;
//! - [`members`]: group membership in the mapping's model (record array, per-member endpoints,
//!   or an attribute of the user record), member validation and id translation;
//! - [`locks`]: one write at a time per resource (writes are read-modify-write).

mod app_calls;
mod convert;
mod list;
mod locks;
mod members;
mod write;

use crate::app_client::AppClient;
use crate::error::{Error, Result};
use crate::ids::{IdCache, IdStore, Names};
use crate::mapping::{Mapping, ResourceMapping};
use crate::scim::list::ListQuery;
use crate::scim::patch::PatchRequest;
use crate::scim::schema::ResourceSchema;
use crate::scim::{ResourceKind, resource};
pub(crate) use app_calls::{as_count, header_count, id_text};
use serde_json::Value;
use std::sync::Arc;

/// What the provisioners of one configuration share.
#[derive(Clone)]
pub struct Shared {
    pub mapping: Arc<Mapping>,
    pub client: AppClient,
    pub store: Arc<dyn IdStore>,
    pub names: Names,
    /// The public SCIM base URL, for `meta.location` and `$ref`.
    pub public_url: String,
}

/// Serves one resource type.
pub struct Provisioner {
    kind: ResourceKind,
    schema: &'static ResourceSchema,
    mapping: Arc<Mapping>,
    client: AppClient,
    store: Arc<dyn IdStore>,
    cache: IdCache,
    names: Names,
    /// The public SCIM base URL, for `meta.location` and `$ref`.
    public_url: String,
    /// Serialises minting so two concurrent reads of a new record cannot mint two ids for it.
    mint_lock: tokio::sync::Mutex<()>,
    /// For groups: the users' provisioner (members are users: validation, ids, user records).
    users: Option<Arc<Provisioner>>,
    /// Orders writes on one resource (by SCIM id); see [`locks`].
    write_locks: locks::WriteLocks,
    /// With `check_duplicates`: orders creates and renames to one name (lowercased), so two
    /// concurrent creates cannot both find the name free.
    name_locks: locks::WriteLocks,
}

impl Provisioner {
    /// `None` when the mapping does not serve `kind`. Groups need `users` (their members).
    pub fn new(
        kind: ResourceKind,
        shared: &Shared,
        cache: IdCache,
        users: Option<Arc<Provisioner>>,
    ) -> Option<Provisioner> {
        let schema = shared.mapping.resource(kind)?.schema;
        if kind == ResourceKind::Group && users.is_none() {
            return None;
        }
        Some(Provisioner {
            kind,
            schema,
            mapping: shared.mapping.clone(),
            client: shared.client.clone(),
            store: shared.store.clone(),
            cache,
            names: shared.names.clone(),
            public_url: shared.public_url.clone(),
            mint_lock: tokio::sync::Mutex::new(()),
            users,
            write_locks: locks::WriteLocks::default(),
            name_locks: locks::WriteLocks::default(),
        })
    }

    fn map(&self) -> &ResourceMapping {
        // `new` refuses a kind the mapping does not serve; users always exist.
        self.mapping
            .resource(self.kind)
            .unwrap_or(&self.mapping.users)
    }

    // The public operations box the work they await: the server moves each request's future
    // whole (a few kilobytes inline: several memcpy of it per request); boxed, it stays small.

    /// `GET /Users/{id}`.
    pub async fn get(&self, id: &str, query: &ListQuery) -> Result<Value> {
        let resource = Box::pin(self.read_with(id, "get", members::wanted(self, query))).await?;
        Ok(self.project(resource, query))
    }

    /// `GET /Users?…`.
    pub async fn list(&self, query: &ListQuery) -> Result<Value> {
        Box::pin(list::list(self, query)).await
    }

    /// `POST /Users`.
    pub async fn create(&self, body: Value, query: &ListQuery) -> Result<Value> {
        let resource = resource::normalize_input(body, self.schema)?;
        let created = Box::pin(write::create(self, resource)).await?;
        Ok(self.project(created, query))
    }

    /// `PUT /Users/{id}`.
    pub async fn replace(&self, id: &str, body: Value, query: &ListQuery) -> Result<Value> {
        let resource = resource::normalize_input(body, self.schema)?;
        let _writing = self.write_locks.lock(id).await;
        let updated = Box::pin(write::replace(self, id, resource)).await?;
        Ok(self.project(updated, query))
    }

    /// `PATCH /Users/{id}`. `Ok(None)`: applied, answer 204 (groups, when the client did not
    /// ask for attributes: their members would cost a listing for an answer nobody reads).
    pub async fn patch(
        &self,
        id: &str,
        patch: &PatchRequest,
        query: &ListQuery,
    ) -> Result<Option<Value>> {
        let _writing = self.write_locks.lock(id).await;
        if self.kind == ResourceKind::Group && query.attributes.is_empty() {
            Box::pin(write::patch(self, id, patch, false)).await?;
            return Ok(None);
        }
        // Asked-for members are read even when the PATCH does not touch them (a rename).
        let updated = Box::pin(write::patch(self, id, patch, members::wanted(self, query))).await?;
        Ok(Some(self.project(updated, query)))
    }

    /// `DELETE /Users/{id}`.
    pub async fn delete(&self, id: &str) -> Result<()> {
        let _writing = self.write_locks.lock(id).await;
        Box::pin(write::delete(self, id)).await
    }

    /// Reads one resource by SCIM id, parked (deactivated-by-deletion) ones included, with a
    /// group's members when `with_members`.
    async fn read_with(
        &self,
        id: &str,
        operation: &'static str,
        with_members: bool,
    ) -> Result<Value> {
        match self.resolve(id).await? {
            Target::Parked(entry) => entry
                .parked
                .ok_or_else(|| Error::bug("parked entry without snapshot")),
            Target::App { app_id, .. } => {
                let record = app_calls::fetch(self, &app_id)
                    .await?
                    .ok_or_else(|| self.not_found(id))?;
                convert::to_scim_with(self, record, operation, with_members).await
            }
        }
    }

    /// Which application record (or parked snapshot) a SCIM id names.
    async fn resolve(&self, id: &str) -> Result<Target> {
        if id.is_empty() {
            return Err(self.not_found(id));
        }
        match self.map().ids {
            crate::mapping::IdMode::App => {
                // Kept attributes live in the store under the application id.
                let entry = if self.map().uses_store() {
                    self.store.get(self.kind, id).await?
                } else {
                    None
                };
                Ok(Target::App {
                    app_id: id.to_string(),
                    entry,
                })
            }
            crate::mapping::IdMode::Minted => {
                let entry = self
                    .store
                    .get(self.kind, id)
                    .await?
                    .ok_or_else(|| self.not_found(id))?;
                match &entry.app_id {
                    Some(app_id) => Ok(Target::App {
                        app_id: app_id.clone(),
                        entry: Some(entry),
                    }),
                    None if entry.parked.is_some() => Ok(Target::Parked(entry)),
                    None => Err(self.not_found(id)),
                }
            }
        }
    }

    /// `https://host/scim/v2/Users/{id}` (the id encoded as one segment).
    fn resource_url(&self, kind: ResourceKind, scim_id: &str) -> String {
        format!(
            "{}/{}/{}",
            self.public_url,
            kind.endpoint(),
            crate::mapping::template::encode_query_component(scim_id)
        )
    }

    fn not_found(&self, id: &str) -> Error {
        Error::not_found(format!("{} {id} not found", self.kind.name()))
    }

    fn project(&self, resource: Value, query: &ListQuery) -> Value {
        resource::project(
            resource,
            &query.attributes,
            &query.excluded_attributes,
            self.schema,
        )
    }
}

/// What a SCIM id resolves to.
enum Target {
    /// A live application record (with its store entry when the mapping mints ids).
    App {
        app_id: String,
        entry: Option<crate::ids::IdEntry>,
    },
    /// A user deactivated by deletion: only the sidecar's snapshot exists.
    Parked(crate::ids::IdEntry),
}

#[cfg(test)]
mod tests {
    use super::*;

    // The size of the future an operation returns, from the method itself (never called).
    fn size2<'a, A: 'a, F>(_: impl FnOnce(&'a Provisioner, A) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    fn size3<'a, A: 'a, B: 'a, F>(_: impl FnOnce(&'a Provisioner, A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    fn size4<'a, A: 'a, B: 'a, C: 'a, F>(_: impl FnOnce(&'a Provisioner, A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn operation_futures_stay_small() {
        // Unboxed, these were 2.4 to 9.4 KiB (debug build), copied whole several times per
        // request by the server's layers.
        let sizes = [
            ("get", size3::<&str, &ListQuery, _>(Provisioner::get)),
            ("list", size2::<&ListQuery, _>(Provisioner::list)),
            ("create", size3::<Value, &ListQuery, _>(Provisioner::create)),
            (
                "replace",
                size4::<&str, Value, &ListQuery, _>(Provisioner::replace),
            ),
            (
                "patch",
                size4::<&str, &PatchRequest, &ListQuery, _>(Provisioner::patch),
            ),
            ("delete", size2::<&str, _>(Provisioner::delete)),
        ];
        for (op, size) in sizes {
            assert!(size <= 1024, "{op}: {size} bytes");
        }
    }
}
