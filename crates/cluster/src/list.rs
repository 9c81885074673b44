//! The one place that calls the Kubernetes API: paginated `list` of a [`Permission`]'s resource.

use std::collections::HashSet;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

use crate::connect::one_line;
use crate::error::ClusterError;
use crate::permissions::{KUBE_PERMISSIONS, Permission};

/// Objects per page (`limit`); the server hands back a `continue` token for the next page.
pub const PAGE_SIZE: u32 = 500;
/// Times a list starts over after its `continue` token expired (HTTP 410) before giving up.
pub const MAX_RESTARTS: usize = 3;

/// The outcome of a `list` that is not an error.
#[derive(Debug, Clone)]
pub enum Listed {
    /// Every object, all pages.
    Items(Vec<DynamicObject>),
    /// HTTP 404: the resource type does not exist on this server (e.g. the Chaos Mesh CRDs are not installed).
    NotInstalled,
}

/// Lists every object of `permission`'s resource in all namespaces, following `continue` tokens.
/// `source` names the `--labels-from` source in a permission error.
pub async fn list_all(
    client: &kube::Client,
    permission: &Permission,
    source: &'static str,
) -> Result<Listed, ClusterError> {
    let mut items = Vec::new();
    Ok(
        match list_each(client, permission, source, |o| items.push(o)).await? {
            Some(_) => Listed::Items(items),
            None => Listed::NotInstalled,
        },
    )
}

/// Like [`list_all`], but hands each object to `each` page by page instead of keeping them all: memory
/// holds one page (500 objects) plus the uid of every object handed out (tens of bytes each). Returns how
/// many objects were listed, or `None` when the resource type does not exist on the server (HTTP 404).
///
/// A `continue` token expires after a few minutes (HTTP 410 Gone, when etcd compacts): the list then
/// starts over from the first page, at most [`MAX_RESTARTS`] times, and objects already handed out (by
/// `metadata.uid`) are skipped, so each is seen once.
pub async fn list_each(
    client: &kube::Client,
    permission: &Permission,
    source: &'static str,
    mut each: impl FnMut(DynamicObject),
) -> Result<Option<usize>, ClusterError> {
    debug_assert!(
        KUBE_PERMISSIONS.contains(permission) && permission.verbs.contains(&"list"),
        "{permission:?} is not a `list` of KUBE_PERMISSIONS"
    );
    let gvk = GroupVersionKind::gvk(permission.api_group, permission.version, permission.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, permission.resource);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let what = permission.describe("list");
    let mut count = 0usize;
    let mut token: Option<String> = None;
    let mut pages = 0usize;
    let mut restarts = 0usize;
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(kube::Error::Api(e)) if e.code == 404 && pages == 0 => {
                return Ok(None);
            }
            Err(kube::Error::Api(e)) if e.code == 410 && token.is_some() => {
                if restarts == MAX_RESTARTS {
                    return Err(ClusterError::Api {
                        permission: what,
                        reason: format!(
                            "the list's continue token expired (HTTP 410) after {restarts} restarts from the \
                             first page; the API server compacts faster than the list is read: {}",
                            one_line(&e.message)
                        ),
                    });
                }
                restarts += 1;
                tracing::warn!(
                    resource = permission.resource,
                    after_objects = count,
                    "continue token expired (HTTP 410); listing again from the first page, skipping objects already read"
                );
                token = None;
                continue;
            }
            Err(kube::Error::Api(e)) if e.code == 401 => {
                return Err(ClusterError::Unauthenticated {
                    permission: what,
                    message: one_line(&e.message),
                });
            }
            Err(kube::Error::Api(e)) if e.code == 403 => {
                return Err(ClusterError::Forbidden {
                    permission: what,
                    code: e.code,
                    label_source: source,
                    message: one_line(&e.message),
                });
            }
            Err(e) => {
                return Err(ClusterError::Api {
                    permission: what,
                    reason: one_line(&e.to_string()),
                });
            }
        };
        pages += 1;
        for o in page.items {
            // Remember what was handed out in case the list has to start over; an object without a uid
            // (none the API server returns) cannot be recognised and is handed out again.
            if let Some(uid) = &o.metadata.uid {
                if !seen.insert(uid.clone()) {
                    continue;
                }
            }
            count += 1;
            each(o);
        }
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    tracing::debug!(
        resource = permission.resource,
        objects = count,
        pages,
        "listed"
    );
    Ok(Some(count))
}
