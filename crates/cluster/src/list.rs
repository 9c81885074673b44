//! The reads of the Kubernetes API: paginated `list` of a [`Permission`]'s resource (cluster-wide, or in
//! one namespace with selectors) and `get` of one object. With [`crate::write`], the only code that
//! calls the API.

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
    let api = api_for(client, permission, None);
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

/// The dynamic API of a permission's resource (its parent's for a subresource), cluster-wide or in a
/// namespace. Checks (in debug builds) that the permission is one of [`KUBE_PERMISSIONS`].
pub(crate) fn api_for(
    client: &kube::Client,
    permission: &Permission,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    debug_assert!(
        KUBE_PERMISSIONS.contains(permission),
        "{permission:?} is not in KUBE_PERMISSIONS"
    );
    let (group, version) = permission.path_group_version();
    let (plural, _) = permission.plural_and_subresource();
    let gvk = GroupVersionKind::gvk(group, version, permission.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// A refused call as [`ClusterError::Refused`] (an API answer) or [`ClusterError::Api`] (no answer).
pub(crate) fn refused(
    permission: &Permission,
    verb: &str,
    object: &str,
    e: kube::Error,
) -> ClusterError {
    match e {
        kube::Error::Api(e) => ClusterError::Refused {
            permission: permission.describe(verb),
            object: object.to_string(),
            code: e.code,
            reason: e.reason,
            message: one_line(&e.message),
        },
        other => ClusterError::Api {
            permission: permission.describe(verb),
            reason: format!("{object}: {}", one_line(&other.to_string())),
        },
    }
}

/// Selectors of a [`list_in`].
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// A label selector (`app=web,tier!=cache`).
    pub labels: Option<String>,
    /// A field selector (`spec.nodeName=node-1`).
    pub fields: Option<String>,
}

/// Lists the objects of `permission`'s resource in `namespace` (every namespace when `None`) that
/// match `selector`, all pages. A refusal (403, 404, ...) is [`ClusterError::Refused`].
pub async fn list_in(
    client: &kube::Client,
    permission: &Permission,
    namespace: Option<&str>,
    selector: &Selector,
) -> Result<Vec<DynamicObject>, ClusterError> {
    debug_assert!(
        permission.verbs.contains(&"list"),
        "{permission:?} has no `list`"
    );
    let api = api_for(client, permission, namespace);
    let where_ = namespace.unwrap_or("all namespaces");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(l) = &selector.labels {
            params = params.labels(l);
        }
        if let Some(f) = &selector.fields {
            params = params.fields(f);
        }
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api
            .list(&params)
            .await
            .map_err(|e| refused(permission, "list", where_, e))?;
        out.extend(page.items);
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Reads one object of `permission`'s resource (`None`: it does not exist, HTTP 404).
pub async fn get(
    client: &kube::Client,
    permission: &Permission,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<DynamicObject>, ClusterError> {
    debug_assert!(
        permission.verbs.contains(&"get"),
        "{permission:?} has no `get`"
    );
    let api = api_for(client, permission, namespace);
    let object = match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    api.get_opt(name)
        .await
        .map_err(|e| refused(permission, "get", &object, e))
}
