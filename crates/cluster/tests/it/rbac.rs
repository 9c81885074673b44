//! RBAC = the verbs the code uses: each role's file (`cluster::permissions::Role::file`: the watch
//! component's ClusterRole, the remediation components' roles) grants exactly that role's
//! `cluster::KUBE_PERMISSIONS`, and every API call in the crate goes through that list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use cluster::permissions::{Role, grants, grants_of};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const CLUSTERROLE: &str = "deploy/kustomize/components/watch/clusterrole.yaml";

type Grants = BTreeSet<(String, String, String)>;

/// Every `(apiGroup, resource, verb)` a ClusterRole YAML grants; wildcards and non-resource rules are errors.
fn granted(yaml: &str) -> Result<Grants, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    if doc["kind"].as_str() != Some("ClusterRole") {
        return Err(format!("kind is {:?}, not ClusterRole", doc["kind"]));
    }
    let strings = |v: &serde_yaml::Value, field: &str| -> Result<Vec<String>, String> {
        v[field]
            .as_sequence()
            .ok_or_else(|| format!("rule without {field}: {v:?}"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(String::from)
                    .ok_or_else(|| format!("{field}: {s:?}"))
            })
            .collect()
    };
    let mut out = Grants::new();
    for rule in doc["rules"].as_sequence().ok_or("no rules")? {
        for key in ["nonResourceURLs", "resourceNames"] {
            if !rule[key].is_null() {
                return Err(format!("{key} is not in KUBE_PERMISSIONS' vocabulary"));
            }
        }
        for g in strings(rule, "apiGroups")? {
            for r in strings(rule, "resources")? {
                for v in strings(rule, "verbs")? {
                    if [&g, &r, &v].iter().any(|s| s.contains('*')) {
                        return Err(format!("wildcard ({g:?}, {r:?}, {v:?})"));
                    }
                    out.insert((g.clone(), r.clone(), v));
                }
            }
        }
    }
    Ok(out)
}

#[test]
fn the_watch_clusterrole_grants_exactly_kube_permissions() {
    let path = repo().join(CLUSTERROLE);
    let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let got = granted(&yaml).unwrap_or_else(|e| panic!("{CLUSTERROLE}: {e}"));
    let want: Grants = grants().into_iter().collect();
    let extra: Vec<_> = got.difference(&want).collect();
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{CLUSTERROLE} differs from cluster::KUBE_PERMISSIONS\n  granted, not used: {extra:?}\n  used, not granted: {missing:?}"
    );
}

#[test]
fn each_role_file_grants_exactly_its_permissions() {
    for role in Role::ALL {
        let file = role.file();
        let yaml =
            std::fs::read_to_string(repo().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = granted(&yaml).unwrap_or_else(|e| panic!("{file}: {e}"));
        let want: Grants = grants_of(role).into_iter().collect();
        assert!(!want.is_empty(), "{role:?} has no permission");
        let extra: Vec<_> = got.difference(&want).collect();
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{file} differs from cluster::KUBE_PERMISSIONS of {role:?}\n  granted, not used: {extra:?}\n  used, not granted: {missing:?}"
        );
    }
    // The nodes are only in the opt-in role; the namespaced one never touches them.
    let namespaced = grants_of(Role::RemediateNamespaced);
    assert!(
        namespaced
            .iter()
            .all(|(_, r, _)| r != "nodes" && r != "pods/eviction")
    );
}

/// The namespaces the remediation component binds its role in are the namespaces its policy lists,
/// each bound to watch's ServiceAccount through the ClusterRole of `role.yaml`; the policy is valid.
#[test]
fn the_remediation_bindings_and_the_policy_name_the_same_namespaces() {
    let dir = repo().join("deploy/kustomize/components/remediate");
    let text = std::fs::read_to_string(dir.join("rolebindings.yaml")).unwrap();
    let mut bound = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let b = serde_yaml::Value::deserialize(doc).unwrap();
        assert_eq!(b["kind"].as_str(), Some("RoleBinding"), "{b:?}");
        assert_eq!(b["roleRef"]["kind"].as_str(), Some("ClusterRole"));
        assert_eq!(b["roleRef"]["name"].as_str(), Some("kubepulse-remediate"));
        let subject = &b["subjects"][0];
        assert_eq!(
            (subject["name"].as_str(), subject["namespace"].as_str()),
            (Some("kubepulse-watch"), Some("kubepulse"))
        );
        let ns = b["metadata"]["namespace"]
            .as_str()
            .expect("a RoleBinding names its namespace");
        assert!(bound.insert(ns.to_string()), "{ns} bound twice");
    }
    let policy = remediate::Policy::load(&dir.join("policy.toml")).unwrap();
    let listed: BTreeSet<String> = policy.namespaces.keys().cloned().collect();
    assert_eq!(
        bound, listed,
        "rolebindings.yaml and policy.toml must name the same namespaces"
    );
    let role = std::fs::read_to_string(dir.join("role.yaml")).unwrap();
    let role: serde_yaml::Value = serde_yaml::from_str(&role).unwrap();
    assert_eq!(
        role["metadata"]["name"].as_str(),
        Some("kubepulse-remediate")
    );
}

#[test]
fn the_comparison_catches_an_extra_verb_a_missing_resource_and_a_wildcard() {
    let yaml = std::fs::read_to_string(repo().join(CLUSTERROLE)).unwrap();
    let want: Grants = grants().into_iter().collect();
    assert_eq!(granted(&yaml).unwrap(), want);
    let extra_verb = yaml.replacen("verbs: [\"list\"]", "verbs: [\"list\", \"watch\"]", 1);
    assert_ne!(granted(&extra_verb).unwrap(), want);
    let missing = yaml.replacen("\"podchaos\", ", "", 1);
    assert_ne!(granted(&missing).unwrap(), want, "{missing}");
    let wildcard =
        format!("{yaml}  - apiGroups: [\"\"]\n    resources: [\"*\"]\n    verbs: [\"get\"]\n");
    assert!(granted(&wildcard).unwrap_err().contains("wildcard"));
}

/// The only code that talks to the API server is `list.rs` (reads) and `write.rs` (writes), and each of
/// their functions takes a `Permission`; permissions are only defined in `permissions.rs`. So a new
/// call site cannot bypass the list.
#[test]
fn every_api_call_goes_through_the_permission_list() {
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.iter().any(|p| p.ends_with("list.rs")), "{files:?}");
    for path in files {
        let name = path.strip_prefix(&src).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if name != "permissions.rs" {
            assert!(
                !text.contains("Permission {"),
                "{name} defines a Permission outside permissions.rs"
            );
        }
        if name == "write.rs" || name == "list.rs" {
            // Every public function takes the permission it uses.
            for (i, f) in text.split("pub async fn ").enumerate().skip(1) {
                let signature = f.split(") ->").next().unwrap_or_default();
                assert!(
                    signature.contains("&Permission"),
                    "{name}: public function #{i} `{}` takes no Permission",
                    signature.split('(').next().unwrap_or_default()
                );
            }
        } else {
            for call in [
                "Api::",
                "Api<",
                ".request(",
                ".request::<",
                ".request_text(",
                ".request_events(",
                ".request_status",
                ".request_stream(",
                "ApiResource",
                "Discovery",
            ] {
                assert!(
                    !text.contains(call),
                    "{name} calls the Kubernetes API ({call}) outside list.rs and write.rs"
                );
            }
        }
    }
}
