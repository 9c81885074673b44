//! The static shape of a cluster: nodes, deployments (requests, limits, HPA) and the service call graph.
//! Presets build it; the engine ([`crate::engine`]) brings it to life.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, SimError};

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

/// A named cluster shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Google's Online Boutique: 11 services on 3 nodes (~15 pods).
    OnlineBoutique,
    /// 4 deployments on 2 nodes (~8 pods): fast tests.
    Small,
    /// 5 namespaces × 10 deployments on 24 nodes (~500 pods).
    Large,
}

impl Preset {
    /// Parses `online-boutique`, `small` or `large`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "online-boutique" | "onlineboutique" | "boutique" => Ok(Preset::OnlineBoutique),
            "small" => Ok(Preset::Small),
            "large" => Ok(Preset::Large),
            other => Err(SimError::UnknownPreset(crate::error::clip(other))),
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::OnlineBoutique => "online-boutique",
            Preset::Small => "small",
            Preset::Large => "large",
        }
    }
}

/// The workload category of a cluster (the original service's `vmcategory`), which shapes its load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmCategory {
    /// Category not known: moderate daily cycle.
    Unknown,
    /// User-facing: strong daily and weekly cycles.
    Interactive,
    /// Batch-like: flat load with more bursts.
    DelayInsensitive,
}

impl VmCategory {
    /// The name used in snapshots ("Interactive", "Delay-insensitive", "Unknown").
    pub fn name(self) -> &'static str {
        match self {
            VmCategory::Unknown => "Unknown",
            VmCategory::Interactive => "Interactive",
            VmCategory::DelayInsensitive => "Delay-insensitive",
        }
    }

    /// Numeric code of the dataset column `vmcategory_code`: 0 Unknown, 1 Interactive, 2 Delay-insensitive.
    pub fn code(self) -> u8 {
        match self {
            VmCategory::Unknown => 0,
            VmCategory::Interactive => 1,
            VmCategory::DelayInsensitive => 2,
        }
    }
}

/// A node's capacity.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node name (GKE style).
    pub name: String,
    /// CPU capacity, cores.
    pub cpu_cores: f64,
    /// Memory capacity, bytes.
    pub memory_bytes: f64,
    /// Root filesystem size, bytes.
    pub disk_bytes: f64,
}

/// Horizontal Pod Autoscaler on CPU.
#[derive(Debug, Clone, Copy)]
pub struct Hpa {
    /// Minimum replicas.
    pub min: u32,
    /// Maximum replicas.
    pub max: u32,
    /// Target CPU utilisation as a fraction of the CPU request (0.6 = 60%).
    pub target_utilization: f64,
}

/// A deployment and the service in front of it.
#[derive(Debug, Clone)]
pub struct DeploymentSpec {
    /// Kubernetes namespace.
    pub namespace: String,
    /// Deployment name.
    pub name: String,
    /// Initial replicas (HPA may change them).
    pub replicas: u32,
    /// Autoscaler, if any.
    pub hpa: Option<Hpa>,
    /// CPU request per pod, cores.
    pub cpu_request: f64,
    /// CPU limit per pod, cores.
    pub cpu_limit: f64,
    /// Memory request per pod, bytes.
    pub memory_request: f64,
    /// Memory limit per pod, bytes.
    pub memory_limit: f64,
    /// Requests per second arriving from outside the cluster at mean load.
    pub external_rps: f64,
    /// Calls to other deployments per request: (deployment index, calls per request).
    pub calls: Vec<(usize, f64)>,
    /// CPU use of a pod as a fraction of its limit at mean load with the initial replicas.
    pub nominal_utilization: f64,
    /// CPU use of an idle pod, cores.
    pub idle_cpu: f64,
    /// Working set of an idle pod as a fraction of the memory limit.
    pub memory_base_ratio: f64,
    /// Own latency (without downstream calls) at low load: median, milliseconds.
    pub latency_p50_ms: f64,
    /// Own latency at low load: 99th percentile, milliseconds.
    pub latency_p99_ms: f64,
    /// Bytes received per request (transmitted: twice that).
    pub bytes_per_request: f64,
    /// Seconds from pod creation to ready.
    pub startup_secs: i64,
}

/// The whole static cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Cluster id (target of the cluster level, e.g. `cluster-1`).
    pub id: String,
    /// Workload category.
    pub vmcategory: VmCategory,
    /// Nodes at the start.
    pub nodes: Vec<NodeSpec>,
    /// Deployments; callers come before the deployments they call.
    pub deployments: Vec<DeploymentSpec>,
    /// Mean requests per second of each deployment (external plus calls), same order as `deployments`.
    pub mean_rps: Vec<f64>,
}

impl ClusterSpec {
    /// Builds the cluster `index` (0-based) of a preset. Cluster 0 is the preset as documented; others vary
    /// load and category with `seed`. `namespace_suffix` is appended to namespaces (for several clusters).
    pub fn build(preset: Preset, index: u32, seed: u64, load_scale: f64) -> ClusterSpec {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7070_0000 ^ u64::from(index));
        let suffix = if index == 0 {
            String::new()
        } else {
            format!("-c{}", index + 1)
        };
        let (mut nodes, mut deployments) = match preset {
            Preset::OnlineBoutique => online_boutique(&suffix),
            Preset::Small => small(&suffix),
            Preset::Large => large(&suffix),
        };
        let (vmcategory, scale) = if index == 0 {
            let cat = match preset {
                Preset::Large => VmCategory::Unknown,
                _ => VmCategory::Interactive,
            };
            (cat, 1.0)
        } else {
            let cat = match rng.random_range(0..3u32) {
                0 => VmCategory::Interactive,
                1 => VmCategory::DelayInsensitive,
                _ => VmCategory::Unknown,
            };
            (cat, rng.random_range(0.7..1.3))
        };
        for d in &mut deployments {
            d.external_rps *= scale * load_scale;
        }
        let cluster_tag = format!("{}{}", preset.name().replace("online-", ""), suffix);
        for (i, n) in nodes.iter_mut().enumerate() {
            n.name = node_name(&cluster_tag, i, &mut rng);
        }
        let mean_rps = propagate_rps(&deployments);
        ClusterSpec {
            id: format!("cluster-{}", index + 1),
            vmcategory,
            nodes,
            deployments,
            mean_rps,
        }
    }

    /// Index of a deployment by `name` or `namespace/name`.
    pub fn find_deployment(&self, target: &str) -> Option<usize> {
        self.deployments
            .iter()
            .position(|d| d.name == target || format!("{}/{}", d.namespace, d.name) == target)
    }

    /// A new node like the first one (cluster autoscaler scale-up).
    pub fn extra_node(&self, ordinal: usize, rng: &mut ChaCha8Rng) -> NodeSpec {
        let mut n = self.nodes[0].clone();
        n.name = node_name(&format!("{}-extra", self.id), ordinal, rng);
        n
    }
}

/// Mean requests per second per deployment: external traffic plus calls from callers (callers first).
fn propagate_rps(deps: &[DeploymentSpec]) -> Vec<f64> {
    let mut rps: Vec<f64> = deps.iter().map(|d| d.external_rps).collect();
    for i in 0..deps.len() {
        for &(callee, calls) in &deps[i].calls {
            rps[callee] += rps[i] * calls;
        }
    }
    rps
}

/// Characters Kubernetes uses in generated names (no vowels, no confusable digits).
pub const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random string of Kubernetes name characters.
pub fn random_name_part(rng: &mut ChaCha8Rng, len: usize) -> String {
    (0..len)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect()
}

fn node_name(tag: &str, i: usize, rng: &mut ChaCha8Rng) -> String {
    let hex: String = (0..8)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    format!(
        "gke-{tag}-pool-{}-{hex}-{}",
        i / 8 + 1,
        random_name_part(rng, 4)
    )
}

fn node(cpu_cores: f64, memory_gib: f64, disk_gib: f64) -> NodeSpec {
    NodeSpec {
        name: String::new(),
        cpu_cores,
        memory_bytes: memory_gib * GIB,
        disk_bytes: disk_gib * GIB,
    }
}

/// Parameters of one preset deployment, compactly.
struct D<'a> {
    name: &'a str,
    replicas: u32,
    hpa_max: Option<u32>,
    cpu_req_m: f64,
    cpu_lim_m: f64,
    mem_req_mi: f64,
    mem_lim_mi: f64,
    external_rps: f64,
    calls: Vec<(usize, f64)>,
    p50_ms: f64,
    p99_ms: f64,
    startup_secs: i64,
}

fn deployment(
    namespace: &str,
    d: D<'_>,
    memory_base_ratio: f64,
    nominal_utilization: f64,
) -> DeploymentSpec {
    DeploymentSpec {
        namespace: namespace.to_string(),
        name: d.name.to_string(),
        replicas: d.replicas,
        hpa: d.hpa_max.map(|max| Hpa {
            min: d.replicas,
            max,
            target_utilization: 0.6,
        }),
        cpu_request: d.cpu_req_m / 1000.0,
        cpu_limit: d.cpu_lim_m / 1000.0,
        memory_request: d.mem_req_mi * MIB,
        memory_limit: d.mem_lim_mi * MIB,
        external_rps: d.external_rps,
        calls: d.calls,
        nominal_utilization,
        idle_cpu: d.cpu_lim_m / 1000.0 * 0.04,
        memory_base_ratio,
        latency_p50_ms: d.p50_ms,
        latency_p99_ms: d.p99_ms,
        bytes_per_request: 2048.0,
        startup_secs: d.startup_secs,
    }
}

#[allow(clippy::too_many_arguments)]
fn d<'a>(
    name: &'a str,
    replicas: u32,
    hpa_max: Option<u32>,
    cpu_m: (f64, f64),
    mem_mi: (f64, f64),
    external_rps: f64,
    calls: Vec<(usize, f64)>,
    latency_ms: (f64, f64),
    startup_secs: i64,
) -> D<'a> {
    D {
        name,
        replicas,
        hpa_max,
        cpu_req_m: cpu_m.0,
        cpu_lim_m: cpu_m.1,
        mem_req_mi: mem_mi.0,
        mem_lim_mi: mem_mi.1,
        external_rps,
        calls,
        p50_ms: latency_ms.0,
        p99_ms: latency_ms.1,
        startup_secs,
    }
}

/// Online Boutique (requests and limits from its Kubernetes manifests; loadgenerator traffic on the frontend).
fn online_boutique(suffix: &str) -> (Vec<NodeSpec>, Vec<DeploymentSpec>) {
    let ns = format!("online-boutique{suffix}");
    // Indices: 0 frontend, 1 checkout, 2 recommendation, 3 cart, 4 productcatalog, 5 currency,
    // 6 shipping, 7 payment, 8 email, 9 ad, 10 redis-cart.
    let list = vec![
        (
            d(
                "frontend",
                2,
                Some(6),
                (100.0, 200.0),
                (64.0, 128.0),
                30.0,
                vec![
                    (4, 3.0),
                    (5, 2.0),
                    (3, 0.6),
                    (2, 0.5),
                    (9, 0.5),
                    (6, 0.15),
                    (1, 0.05),
                ],
                (8.0, 40.0),
                15,
            ),
            0.5,
        ),
        (
            d(
                "checkoutservice",
                1,
                Some(4),
                (100.0, 200.0),
                (64.0, 128.0),
                0.0,
                vec![(4, 2.0), (5, 2.0), (3, 1.0), (6, 2.0), (7, 1.0), (8, 1.0)],
                (5.0, 25.0),
                12,
            ),
            0.45,
        ),
        (
            d(
                "recommendationservice",
                1,
                Some(4),
                (100.0, 200.0),
                (220.0, 450.0),
                0.0,
                vec![(4, 1.0)],
                (4.0, 20.0),
                20,
            ),
            0.55,
        ),
        (
            d(
                "cartservice",
                2,
                Some(5),
                (200.0, 300.0),
                (64.0, 128.0),
                0.0,
                vec![(10, 1.2)],
                (3.0, 15.0),
                25,
            ),
            0.5,
        ),
        (
            d(
                "productcatalogservice",
                2,
                Some(6),
                (100.0, 200.0),
                (64.0, 128.0),
                0.0,
                vec![],
                (2.0, 10.0),
                10,
            ),
            0.4,
        ),
        (
            d(
                "currencyservice",
                2,
                Some(6),
                (100.0, 200.0),
                (64.0, 128.0),
                0.0,
                vec![],
                (1.5, 8.0),
                10,
            ),
            0.45,
        ),
        (
            d(
                "shippingservice",
                1,
                Some(3),
                (100.0, 200.0),
                (64.0, 128.0),
                0.0,
                vec![],
                (2.0, 10.0),
                10,
            ),
            0.35,
        ),
        (
            d(
                "paymentservice",
                1,
                Some(3),
                (100.0, 200.0),
                (64.0, 128.0),
                0.0,
                vec![],
                (1.5, 8.0),
                10,
            ),
            0.4,
        ),
        (
            d(
                "emailservice",
                1,
                Some(3),
                (100.0, 200.0),
                (64.0, 128.0),
                0.0,
                vec![],
                (2.0, 12.0),
                12,
            ),
            0.45,
        ),
        (
            d(
                "adservice",
                1,
                Some(3),
                (200.0, 300.0),
                (180.0, 300.0),
                0.0,
                vec![],
                (3.0, 18.0),
                45,
            ),
            0.55,
        ),
        (
            d(
                "redis-cart",
                1,
                None,
                (70.0, 125.0),
                (200.0, 256.0),
                0.0,
                vec![],
                (0.5, 3.0),
                8,
            ),
            0.35,
        ),
    ];
    let deployments = list
        .into_iter()
        .map(|(spec, mem_ratio)| deployment(&ns, spec, mem_ratio, 0.25))
        .collect();
    (vec![node(4.0, 16.0, 100.0); 3], deployments)
}

/// A small shop: web → api → cache, plus a worker; 2 nodes.
fn small(suffix: &str) -> (Vec<NodeSpec>, Vec<DeploymentSpec>) {
    let ns = format!("shop{suffix}");
    let list = vec![
        d(
            "web",
            2,
            Some(4),
            (200.0, 400.0),
            (128.0, 256.0),
            20.0,
            vec![(1, 2.0)],
            (10.0, 50.0),
            15,
        ),
        d(
            "api",
            2,
            Some(5),
            (250.0, 500.0),
            (256.0, 512.0),
            0.0,
            vec![(2, 3.0)],
            (6.0, 30.0),
            20,
        ),
        d(
            "cache",
            1,
            None,
            (100.0, 250.0),
            (256.0, 512.0),
            0.0,
            vec![],
            (0.5, 3.0),
            8,
        ),
        d(
            "worker",
            1,
            Some(3),
            (200.0, 500.0),
            (256.0, 512.0),
            4.0,
            vec![(2, 1.0)],
            (40.0, 200.0),
            20,
        ),
    ];
    let deployments = list
        .into_iter()
        .map(|spec| deployment(&ns, spec, 0.45, 0.25))
        .collect();
    (vec![node(4.0, 16.0, 100.0); 2], deployments)
}

/// Five namespaces of ten deployments each (gateway → services → cache/db); ~500 pods on 24 nodes.
fn large(suffix: &str) -> (Vec<NodeSpec>, Vec<DeploymentSpec>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0x1a29e);
    let namespaces = ["payments", "search", "catalog", "checkout", "accounts"];
    let services = [
        "api",
        "auth",
        "orders",
        "pricing",
        "inventory",
        "ranking",
        "notify",
    ];
    let mut deployments = Vec::new();
    for ns in namespaces {
        let namespace = format!("{ns}{suffix}");
        let base = deployments.len();
        // gateway (base), 7 services (base+1..=base+7), cache (base+8), db (base+9)
        let gateway_calls: Vec<(usize, f64)> = (1..=7)
            .map(|k| (base + k, rng.random_range(0.3..1.2)))
            .collect();
        let mut list = vec![d(
            "gateway",
            12,
            Some(24),
            (250.0, 500.0),
            (256.0, 512.0),
            400.0,
            gateway_calls,
            (5.0, 30.0),
            15,
        )];
        for (k, svc) in services.iter().enumerate() {
            let replicas = rng.random_range(7..16);
            let calls = if k < 3 {
                vec![(base + 8, 1.5), (base + 9, 1.0)]
            } else {
                vec![(base + 8, 1.0)]
            };
            list.push(d(
                svc,
                replicas,
                Some(replicas * 2),
                (250.0, 500.0),
                (256.0, 512.0),
                0.0,
                calls,
                (rng.random_range(2.0..8.0), rng.random_range(12.0..40.0)),
                rng.random_range(10..40),
            ));
        }
        list.push(d(
            "cache",
            3,
            None,
            (250.0, 500.0),
            (512.0, 1024.0),
            0.0,
            vec![],
            (0.5, 3.0),
            8,
        ));
        list.push(d(
            "db",
            3,
            None,
            (500.0, 1000.0),
            (1024.0, 2048.0),
            0.0,
            vec![],
            (2.0, 15.0),
            30,
        ));
        for spec in list {
            let ratio = rng.random_range(0.35..0.55);
            deployments.push(deployment(&namespace, spec, ratio, 0.25));
        }
    }
    (vec![node(16.0, 64.0, 200.0); 24], deployments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_boutique_has_eleven_services_on_three_nodes() {
        let c = ClusterSpec::build(Preset::OnlineBoutique, 0, 1, 1.0);
        assert_eq!(c.deployments.len(), 11);
        assert_eq!(c.nodes.len(), 3);
        assert!(c.find_deployment("frontend").is_some());
        assert!(c.find_deployment("online-boutique/cartservice").is_some());
        // productcatalog receives calls from frontend, checkout and recommendation
        let pc = c.find_deployment("productcatalogservice").unwrap_or(0);
        assert!(c.mean_rps[pc] > 90.0, "{}", c.mean_rps[pc]);
    }

    #[test]
    fn large_preset_has_about_500_pods() {
        let c = ClusterSpec::build(Preset::Large, 0, 1, 1.0);
        let pods: u32 = c.deployments.iter().map(|d| d.replicas).sum();
        assert!((400..=600).contains(&pods), "{pods}");
    }
}
