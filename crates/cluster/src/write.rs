//! The writes of the Kubernetes API (the remediation agent's): server-side apply, create, eviction.
//! Each takes a [`Permission`] of [`crate::KUBE_PERMISSIONS`] holding the verb and runs the request
//! twice: first as a server-side dry run (`dryRun=All`: admission, validation and conflicts checked,
//! nothing stored), then for real only if the dry run passed. Server-side applies use the field
//! manager [`FIELD_MANAGER`] and never force: a field another manager owns is a 409 conflict
//! ([`ClusterError::Refused`]), never taken over.

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};

use crate::error::ClusterError;
use crate::list::{api_for, refused};
use crate::permissions::Permission;

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "kubepulse";

fn object_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Server-side applies `body` (a partial object: `apiVersion`, `kind`, `metadata.name`, the fields
/// KubePulse manages) to the object `name` — or to its subresource when the permission is one
/// (`deployments/scale`, `pods/resize`) — dry run first, as field manager `manager`
/// ([`FIELD_MANAGER`] for actions).
pub async fn apply(
    client: &kube::Client,
    permission: &Permission,
    namespace: Option<&str>,
    name: &str,
    body: &serde_json::Value,
    manager: &str,
) -> Result<DynamicObject, ClusterError> {
    debug_assert!(
        permission.verbs.contains(&"patch"),
        "{permission:?} has no `patch`"
    );
    let api = api_for(client, permission, namespace);
    let object = object_name(namespace, name);
    let patch = Patch::Apply(body);
    let mut params = PatchParams::apply(manager);
    params.force = false;
    let (_, subresource) = permission.plural_and_subresource();
    let send = |params: PatchParams| {
        let (api, patch) = (&api, &patch);
        async move {
            match subresource {
                Some(sub) => api.patch_subresource(sub, name, &params, patch).await,
                None => api.patch(name, &params, patch).await,
            }
        }
    };
    let dry = PatchParams {
        dry_run: true,
        ..params.clone()
    };
    send(dry)
        .await
        .map_err(|e| refused(permission, "patch", &object, e))?;
    send(params)
        .await
        .map_err(|e| refused(permission, "patch", &object, e))
}

/// Creates `body` in `namespace`, dry run first.
pub async fn create(
    client: &kube::Client,
    permission: &Permission,
    namespace: Option<&str>,
    body: &serde_json::Value,
) -> Result<(), ClusterError> {
    debug_assert!(
        permission.verbs.contains(&"create"),
        "{permission:?} has no `create`"
    );
    debug_assert!(permission.plural_and_subresource().1.is_none());
    let api = api_for(client, permission, namespace);
    let object: DynamicObject = serde_json::from_value(body.clone()).map_err(|e| {
        ClusterError::Invalid(format!("{} body is not an object: {e}", permission.kind))
    })?;
    let what = object_name(namespace, object.metadata.name.as_deref().unwrap_or("-"));
    for dry_run in [true, false] {
        let params = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_string()),
        };
        api.create(&params, &object)
            .await
            .map_err(|e| refused(permission, "create", &what, e))?;
    }
    Ok(())
}

/// Evicts the pod `namespace/name` through the Eviction API (`pods/eviction`), dry run first; a
/// PodDisruptionBudget that does not allow it now is HTTP 429 ([`ClusterError::Refused`]).
pub async fn evict(
    client: &kube::Client,
    permission: &Permission,
    namespace: &str,
    name: &str,
) -> Result<(), ClusterError> {
    debug_assert!(permission.resource == "pods/eviction" && permission.verbs.contains(&"create"));
    let api = api_for(client, permission, Some(namespace));
    let object = object_name(Some(namespace), name);
    for dry_run in [true, false] {
        let mut delete = DeleteParams::default();
        if dry_run {
            delete = delete.dry_run();
        }
        let body = serde_json::json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
            "deleteOptions": delete,
        });
        let params = PostParams {
            dry_run,
            field_manager: None,
        };
        let bytes = serde_json::to_vec(&body).map_err(|e| ClusterError::Invalid(e.to_string()))?;
        api.create_subresource::<serde_json::Value>("eviction", name, &params, bytes)
            .await
            .map_err(|e| refused(permission, "create", &object, e))?;
    }
    Ok(())
}
