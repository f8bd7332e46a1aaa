//! The `acme-prod` Kubernetes cluster: three nodes and the pods on them. The
//! recommendations pod runs out of memory and crash-loops over the last hours; a reindex job
//! has been pending (unschedulable) for the last two hours; one node was briefly not ready
//! the previous day.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::super::guid::entity_guid;
use super::super::model::{Account, Entity, EntityKind};
use super::{
    HOUR, MINUTE, PRODUCTION, SLOW_SAMPLE_SPACING_MS, Texts, account_name, every, permalink, round_to,
};

/// The cluster's name.
pub(super) const CLUSTER: &str = "acme-prod";
const NODES: [&str; 3] = ["ip-10-0-3-31", "ip-10-0-3-32", "ip-10-0-3-33"];
const MIB: i64 = 1024 * 1024;
const GIB: i64 = 1024 * MIB;
const ALLOCATABLE_CPU_CORES: f64 = 3.92;
const ALLOCATABLE_MEMORY_BYTES: i64 = 15 * GIB;

/// How a pod behaves over the history.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Healthy,
    /// Runs out of memory and restarts every `OOM_CYCLE_MS` over the last `CRASH_LOOP_MS`.
    CrashLooping,
    /// Created `PENDING_MS` before the anchor; never scheduled.
    Pending,
}

const OOM_CYCLE_MS: i64 = 40 * MINUTE;
const CRASH_LOOP_MS: i64 = 6 * HOUR;
const PENDING_MS: i64 = 2 * HOUR;

struct PodSpec {
    namespace: &'static str,
    deployment: Option<&'static str>,
    pod: &'static str,
    node: Option<usize>,
    container: &'static str,
    cpu_cores: f64,
    cpu_limit_cores: f64,
    memory_bytes: i64,
    memory_limit_bytes: i64,
    behaviour: Behaviour,
}

const PODS: [PodSpec; 6] = [
    PodSpec {
        namespace: "storefront",
        deployment: Some("search-api"),
        pod: "search-api-7d9f8b6c5-x2k4p",
        node: Some(0),
        container: "search-api",
        cpu_cores: 0.35,
        cpu_limit_cores: 1.0,
        memory_bytes: 600 * MIB,
        memory_limit_bytes: GIB,
        behaviour: Behaviour::Healthy,
    },
    PodSpec {
        namespace: "storefront",
        deployment: Some("search-api"),
        pod: "search-api-7d9f8b6c5-q9m7t",
        node: Some(1),
        container: "search-api",
        cpu_cores: 0.35,
        cpu_limit_cores: 1.0,
        memory_bytes: 600 * MIB,
        memory_limit_bytes: GIB,
        behaviour: Behaviour::Healthy,
    },
    PodSpec {
        namespace: "storefront",
        deployment: Some("recommendations"),
        pod: "recommendations-6c8d7f5b9-kx2lp",
        node: Some(2),
        container: "recommendations",
        cpu_cores: 0.5,
        cpu_limit_cores: 1.0,
        memory_bytes: 380 * MIB,
        memory_limit_bytes: 512 * MIB,
        behaviour: Behaviour::CrashLooping,
    },
    PodSpec {
        namespace: "ingress-nginx",
        deployment: Some("ingress-nginx-controller"),
        pod: "ingress-nginx-controller-5f7b9c8d4-q8w2e",
        node: Some(0),
        container: "controller",
        cpu_cores: 0.2,
        cpu_limit_cores: 0.5,
        memory_bytes: 180 * MIB,
        memory_limit_bytes: 512 * MIB,
        behaviour: Behaviour::Healthy,
    },
    PodSpec {
        namespace: "kube-system",
        deployment: Some("coredns"),
        pod: "coredns-5d78c9869d-m4n7p",
        node: Some(1),
        container: "coredns",
        cpu_cores: 0.02,
        cpu_limit_cores: 0.1,
        memory_bytes: 40 * MIB,
        memory_limit_bytes: 170 * MIB,
        behaviour: Behaviour::Healthy,
    },
    PodSpec {
        namespace: "storefront",
        deployment: None,
        pod: "catalog-reindex-28391040-zzt6q",
        node: None,
        container: "catalog-reindex",
        cpu_cores: 0.0,
        cpu_limit_cores: 2.0,
        memory_bytes: 0,
        memory_limit_bytes: 4 * GIB,
        behaviour: Behaviour::Pending,
    },
];

/// The cluster as an entity (domain `INFRA`, type `KUBERNETESCLUSTER`).
pub(super) fn cluster_entity(accounts: &[Account]) -> Entity {
    let guid = entity_guid(PRODUCTION, "INFRA", "KUBERNETESCLUSTER", "9001");
    Entity {
        name: CLUSTER.to_string(),
        account_id: PRODUCTION,
        domain: "INFRA",
        entity_type_tag: "KUBERNETESCLUSTER",
        kind: EntityKind::GenericInfrastructure,
        reporting: true,
        alert_severity: "NOT_ALERTING",
        tags: vec![
            ("account".to_string(), vec![account_name(accounts, PRODUCTION)]),
            ("accountId".to_string(), vec![PRODUCTION.to_string()]),
            ("clusterName".to_string(), vec![CLUSTER.to_string()]),
            ("environment".to_string(), vec!["production".to_string()]),
        ],
        permalink: permalink(&guid),
        guid,
    }
}

/// What a pod's container did in one sample.
struct ContainerReading {
    cpu_cores: f64,
    memory_bytes: i64,
    restarts: i64,
    /// `Running`, `Waiting` or `Terminated`, and the reason when not running.
    status: (&'static str, Option<&'static str>),
}

fn read_container(rng: &mut StdRng, pod: &PodSpec, timestamp: i64, anchor_ms: i64) -> ContainerReading {
    match pod.behaviour {
        Behaviour::Pending => ContainerReading {
            cpu_cores: 0.0,
            memory_bytes: 0,
            restarts: 0,
            status: ("Waiting", Some("ContainerCreating")),
        },
        Behaviour::CrashLooping if timestamp >= anchor_ms - CRASH_LOOP_MS => {
            let elapsed = timestamp - (anchor_ms - CRASH_LOOP_MS);
            let restarts = elapsed / OOM_CYCLE_MS;
            if restarts > 0 && elapsed % OOM_CYCLE_MS < SLOW_SAMPLE_SPACING_MS {
                ContainerReading {
                    cpu_cores: 0.0,
                    memory_bytes: 0,
                    restarts,
                    status: ("Waiting", Some("CrashLoopBackOff")),
                }
            } else {
                let climb = (elapsed % OOM_CYCLE_MS) as f64 / OOM_CYCLE_MS as f64;
                ContainerReading {
                    cpu_cores: pod.cpu_cores * rng.random_range(0.8..1.2),
                    memory_bytes: (pod.memory_limit_bytes as f64 * (0.75 + 0.24 * climb)).round() as i64,
                    restarts,
                    status: ("Running", None),
                }
            }
        }
        Behaviour::Healthy | Behaviour::CrashLooping => ContainerReading {
            cpu_cores: pod.cpu_cores * rng.random_range(0.6..1.4),
            memory_bytes: (pod.memory_bytes as f64 * rng.random_range(0.9..1.1)).round() as i64,
            restarts: 0,
            status: ("Running", None),
        },
    }
}

/// `K8sNodeSample`s, `K8sPodSample`s and `K8sContainerSample`s (production account).
pub(super) fn generate_samples(
    rng: &mut StdRng,
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let account_events = events.entry(PRODUCTION).or_default();
    let cluster: Arc<str> = Arc::from(CLUSTER);
    let not_ready_from = anchor_ms - 20 * HOUR;
    let mut texts = Texts::default();
    for timestamp in every(start, anchor_ms, SLOW_SAMPLE_SPACING_MS) {
        let mut node_cpu = [0.0_f64; NODES.len()];
        let mut node_memory = [0_i64; NODES.len()];
        for pod in &PODS {
            if pod.behaviour == Behaviour::Pending && timestamp < anchor_ms - PENDING_MS {
                continue;
            }
            let reading = read_container(rng, pod, timestamp, anchor_ms);
            if let Some(node) = pod.node {
                node_cpu[node] += reading.cpu_cores;
                node_memory[node] += reading.memory_bytes;
            }
            let running = reading.status.0 == "Running";
            let mut pod_sample = Event::new("K8sPodSample", timestamp)
                .with("clusterName", &cluster)
                .with("namespaceName", texts.get(pod.namespace))
                .with("podName", texts.get(pod.pod))
                .with(
                    "status",
                    texts.get(if pod.behaviour == Behaviour::Pending { "Pending" } else { "Running" }),
                )
                .with("isReady", i64::from(running))
                .with("restartCount", reading.restarts);
            let mut container_sample = Event::new("K8sContainerSample", timestamp)
                .with("clusterName", &cluster)
                .with("namespaceName", texts.get(pod.namespace))
                .with("podName", texts.get(pod.pod))
                .with("containerName", texts.get(pod.container))
                .with("cpuUsedCores", round_to(reading.cpu_cores, 3))
                .with("cpuLimitCores", pod.cpu_limit_cores)
                .with("memoryWorkingSetBytes", reading.memory_bytes)
                .with("memoryLimitBytes", pod.memory_limit_bytes)
                .with("restartCount", reading.restarts)
                .with("status", texts.get(reading.status.0));
            if let Some(reason) = reading.status.1 {
                container_sample = container_sample.with("reason", texts.get(reason));
            }
            if let Some(node) = pod.node {
                pod_sample = pod_sample.with("nodeName", texts.get(NODES[node]));
                container_sample = container_sample.with("nodeName", texts.get(NODES[node]));
            }
            if let Some(deployment) = pod.deployment {
                pod_sample = pod_sample.with("deploymentName", texts.get(deployment));
            }
            account_events.push(pod_sample);
            account_events.push(container_sample);
        }
        for (index, node) in NODES.iter().enumerate() {
            let system_cpu = rng.random_range(0.3..0.6);
            let system_memory = rng.random_range(2_500 * MIB..3_500 * MIB);
            // The last node dropped out for twenty minutes the previous day.
            let ready = !(index == 2 && (not_ready_from..not_ready_from + 20 * MINUTE).contains(&timestamp));
            account_events.push(
                Event::new("K8sNodeSample", timestamp)
                    .with("clusterName", &cluster)
                    .with("nodeName", texts.get(node))
                    .with("cpuUsedCores", round_to(node_cpu[index] + system_cpu, 3))
                    .with("allocatableCpuCores", ALLOCATABLE_CPU_CORES)
                    .with("memoryWorkingSetBytes", node_memory[index] + system_memory)
                    .with("allocatableMemoryBytes", ALLOCATABLE_MEMORY_BYTES)
                    .with("condition.Ready", i64::from(ready)),
            );
        }
    }
}
