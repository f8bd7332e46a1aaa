//! Infrastructure samples of the hosts: system, processes, storage volumes and containers.
//! Each carries the host's `hostname` and `entityGuid`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::{
    AppInstance, BAD_RELEASE_AGO_MS, HOUR, HostInstance, MINUTE, RootDiskReading, SAMPLE_SPACING_MS,
    SLOW_SAMPLE_SPACING_MS, Texts, every, round_to,
};

const GIB: i64 = 1024 * 1024 * 1024;
const MIB: i64 = 1024 * 1024;

/// After the bad payments release, its container runs out of memory this often.
const OOM_CYCLE_MS: i64 = 30 * MINUTE;

/// The host whose data volume is filling up (the open disk issue is on it).
const FILLING_DISK_HOST: &str = "ip-10-0-1-12";

/// `SystemSample`s; returns the root-volume usage of every sample for the storage samples.
pub(super) fn generate_host_events(
    rng: &mut StdRng,
    hosts: &[HostInstance],
    start: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) -> Vec<RootDiskReading> {
    let mut root_disk = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        let account_events = events.entry(host.account_id).or_default();
        let name: Arc<str> = Arc::from(host.name.as_str());
        let guid: Arc<str> = Arc::from(host.guid.as_str());
        let full_name: Arc<str> = Arc::from(format!("{}.ec2.internal", host.name));
        let linux: Arc<str> = Arc::from("linux");
        let base_cpu = 20.0 + 12.0 * index as f64;
        let mut disk = 55.0 + 5.0 * index as f64;
        let mut timestamp = start;
        while timestamp < host.reporting_until {
            let cpu: f64 = base_cpu + rng.random_range(-10.0..25.0);
            let memory: f64 = 45.0 + rng.random_range(0.0..30.0);
            disk = (disk + rng.random_range(0.0..0.02)).min(99.0);
            let disk_used = round_to(disk, 2);
            account_events.push(
                Event::new("SystemSample", timestamp)
                    .with("hostname", &name)
                    .with("fullHostname", &full_name)
                    .with("entityGuid", &guid)
                    .with("entityName", &name)
                    .with("cpuPercent", round_to(cpu.clamp(0.0, 100.0), 2))
                    .with("memoryUsedPercent", round_to(memory, 2))
                    .with("diskUsedPercent", disk_used)
                    .with("operatingSystem", &linux),
            );
            root_disk.push(RootDiskReading { host_index: index, timestamp, used_percent: disk_used });
            timestamp += SAMPLE_SPACING_MS;
        }
    }
    root_disk
}

/// A process that runs on a host.
struct ProcessSpec {
    display_name: Arc<str>,
    command_name: Arc<str>,
    process_id: i64,
    base_cpu: f64,
    resident_bytes: i64,
    threads: i64,
    /// The container it runs in, when it runs in one.
    container_id: Option<Arc<str>>,
}

/// The agent and container runtime on every host, plus the process of each application the
/// host runs (inside the application's container).
fn host_processes(host: &HostInstance, apps: &[AppInstance]) -> Vec<ProcessSpec> {
    let mut processes = vec![
        ProcessSpec {
            display_name: Arc::from("newrelic-infra"),
            command_name: Arc::from("newrelic-infra"),
            process_id: 812,
            base_cpu: 0.8,
            resident_bytes: 64 * MIB,
            threads: 14,
            container_id: None,
        },
        ProcessSpec {
            display_name: Arc::from("dockerd"),
            command_name: Arc::from("dockerd"),
            process_id: 977,
            base_cpu: 1.5,
            resident_bytes: 120 * MIB,
            threads: 22,
            container_id: None,
        },
    ];
    for (n, app) in apps.iter().filter(|app| app.host_guid == host.guid).enumerate() {
        let (command, base_cpu, resident_bytes, threads) = match app.spec.language {
            "java" => ("java", 18.0, 1_400 * MIB, 96),
            "nodejs" => ("node", 9.0, 380 * MIB, 11),
            _ => (app.spec.name, 6.0, 210 * MIB, 24),
        };
        processes.push(ProcessSpec {
            display_name: Arc::from(app.spec.name),
            command_name: Arc::from(command),
            process_id: 2_301 + 117 * n as i64,
            base_cpu,
            resident_bytes,
            threads,
            container_id: Some(Arc::from(container_id(&host.name, app.spec.name))),
        });
    }
    processes
}

/// `ProcessSample`s of every host's processes.
pub(super) fn generate_process_samples(
    rng: &mut StdRng,
    apps: &[AppInstance],
    hosts: &[HostInstance],
    start: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    for host in hosts {
        let account_events = events.entry(host.account_id).or_default();
        let hostname: Arc<str> = Arc::from(host.name.as_str());
        let guid: Arc<str> = Arc::from(host.guid.as_str());
        let processes = host_processes(host, apps);
        for timestamp in every(start, host.reporting_until, SLOW_SAMPLE_SPACING_MS) {
            for process in &processes {
                let cpu = process.base_cpu * rng.random_range(0.6..1.6);
                let resident = process.resident_bytes as f64 * rng.random_range(0.92..1.08);
                let mut sample = Event::new("ProcessSample", timestamp)
                    .with("hostname", &hostname)
                    .with("entityGuid", &guid)
                    .with("processDisplayName", &process.display_name)
                    .with("processId", process.process_id)
                    .with("commandName", &process.command_name)
                    .with("cpuPercent", round_to(cpu, 2))
                    .with("memoryResidentSizeBytes", resident.round() as i64)
                    .with("ioReadBytesPerSecond", round_to(rng.random_range(0.0..400_000.0), 0))
                    .with("ioWriteBytesPerSecond", round_to(rng.random_range(0.0..250_000.0), 0))
                    .with("threadCount", process.threads + rng.random_range(0..4));
                if let Some(container) = &process.container_id {
                    sample = sample.with("containerId", container);
                }
                account_events.push(sample);
            }
        }
    }
}

/// `StorageSample`s of each host's root and data volumes. The root volume agrees with the
/// host's `SystemSample.diskUsedPercent` at the same moment; the data volume of
/// [`FILLING_DISK_HOST`] fills up over the last day and crosses 85% about 40 minutes before
/// the anchor.
pub(super) fn generate_storage_samples(
    rng: &mut StdRng,
    hosts: &[HostInstance],
    root_disk: &[RootDiskReading],
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let mut texts = Texts::default();
    for (index, host) in hosts.iter().enumerate() {
        let account_events = events.entry(host.account_id).or_default();
        let hostname: Arc<str> = Arc::from(host.name.as_str());
        let guid: Arc<str> = Arc::from(host.guid.as_str());
        let filling = host.name == FILLING_DISK_HOST;
        let readings = root_disk.iter().filter(|reading| reading.host_index == index).filter(|reading| {
            reading.timestamp % SLOW_SAMPLE_SPACING_MS == anchor_ms % SLOW_SAMPLE_SPACING_MS
        });
        for reading in readings {
            let root = storage_sample(
                &mut texts,
                reading.timestamp,
                ("/", "/dev/nvme0n1p1", 100 * GIB),
                reading.used_percent,
                rng.random_range(1.0..12.0),
            );
            let data_percent = if filling {
                let day_ago = anchor_ms - 24 * HOUR;
                let progress = ((reading.timestamp - day_ago) as f64 / (24 * HOUR) as f64).clamp(0.0, 1.0);
                // 71% a day ago, 85% about 40 minutes before the anchor, 85.4% at the anchor.
                71.0 + 14.4 * progress + rng.random_range(0.0..0.1)
            } else {
                38.0 + 4.0 * index as f64 + rng.random_range(0.0..0.5)
            };
            let data = storage_sample(
                &mut texts,
                reading.timestamp,
                ("/data", "/dev/nvme1n1", 500 * GIB),
                round_to(data_percent, 2),
                rng.random_range(if filling { 35.0..70.0 } else { 2.0..20.0 }),
            );
            for sample in [root, data] {
                account_events.push(sample.with("hostname", &hostname).with("entityGuid", &guid));
            }
        }
    }
}

fn storage_sample(
    texts: &mut Texts,
    timestamp: i64,
    volume: (&'static str, &'static str, i64),
    used_percent: f64,
    utilization: f64,
) -> Event {
    let (mount_point, device, total) = volume;
    let used = (total as f64 * used_percent / 100.0).round() as i64;
    Event::new("StorageSample", timestamp)
        .with("mountPoint", texts.get(mount_point))
        .with("device", texts.get(device))
        .with("diskUsedPercent", used_percent)
        .with("diskUsedBytes", used)
        .with("diskFreeBytes", total - used)
        .with("diskTotalBytes", total)
        .with("totalUtilizationPercent", round_to(utilization, 2))
}

/// A stable 12-digit container id for an application's container on a host.
fn container_id(host: &str, name: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in host.bytes().chain([b'/']).chain(name.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

/// A container on a host.
struct ContainerSpec {
    id: Arc<str>,
    name: Arc<str>,
    image: Arc<str>,
    base_cpu: f64,
    base_memory: i64,
    memory_limit: i64,
    /// Whether this is the payments container that the bad release makes run out of memory.
    restarts_after_bad_release: bool,
}

fn host_containers(host: &HostInstance, apps: &[AppInstance]) -> Vec<ContainerSpec> {
    let mut containers = Vec::new();
    for app in apps.iter().filter(|app| app.host_guid == host.guid) {
        let (base_memory, memory_limit) = match app.spec.language {
            "java" => (1_500 * MIB, 2 * GIB),
            "nodejs" => (400 * MIB, GIB),
            _ => (260 * MIB, 512 * MIB),
        };
        containers.push(ContainerSpec {
            id: Arc::from(container_id(&host.name, app.spec.name)),
            name: Arc::from(app.spec.name),
            image: Arc::from(format!("acme/{}", app.spec.name)),
            base_cpu: 12.0,
            base_memory,
            memory_limit,
            restarts_after_bad_release: app.is_production("payments-api"),
        });
    }
    if !containers.is_empty() {
        containers.push(ContainerSpec {
            id: Arc::from(container_id(&host.name, "fluent-bit")),
            name: Arc::from("fluent-bit"),
            image: Arc::from("fluent/fluent-bit"),
            base_cpu: 1.2,
            base_memory: 40 * MIB,
            memory_limit: 128 * MIB,
            restarts_after_bad_release: false,
        });
    }
    containers
}

/// `ContainerSample`s of the application containers and their log-forwarding sidecars.
/// After the bad payments release, the payments container's memory climbs to its limit and
/// it restarts every [`OOM_CYCLE_MS`].
pub(super) fn generate_container_samples(
    rng: &mut StdRng,
    apps: &[AppInstance],
    hosts: &[HostInstance],
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let release = anchor_ms - BAD_RELEASE_AGO_MS;
    let (running, restarting_state): (Arc<str>, Arc<str>) = (Arc::from("running"), Arc::from("restarting"));
    for host in hosts {
        let account_events = events.entry(host.account_id).or_default();
        let hostname: Arc<str> = Arc::from(host.name.as_str());
        let guid: Arc<str> = Arc::from(host.guid.as_str());
        for container in host_containers(host, apps) {
            for timestamp in every(start, host.reporting_until, SLOW_SAMPLE_SPACING_MS) {
                let since_release = timestamp - release;
                let troubled = container.restarts_after_bad_release && since_release >= 0;
                let restarts = if troubled { since_release / OOM_CYCLE_MS } else { 0 };
                // The sample right after each restart catches the container coming back.
                let restarting = restarts > 0 && since_release % OOM_CYCLE_MS < SLOW_SAMPLE_SPACING_MS;
                let memory = if troubled {
                    let climb = (since_release % OOM_CYCLE_MS) as f64 / OOM_CYCLE_MS as f64;
                    container.memory_limit as f64 * (0.7 + 0.29 * climb)
                } else {
                    container.base_memory as f64 * rng.random_range(0.9..1.1)
                };
                account_events.push(
                    Event::new("ContainerSample", timestamp)
                        .with("hostname", &hostname)
                        .with("entityGuid", &guid)
                        .with("containerId", &container.id)
                        .with("containerName", &container.name)
                        .with("imageName", &container.image)
                        .with("cpuPercent", round_to(container.base_cpu * rng.random_range(0.5..1.5), 2))
                        .with("memoryUsageBytes", memory.round() as i64)
                        .with("memoryLimitBytes", container.memory_limit)
                        .with("restartCount", restarts)
                        .with("state", if restarting { &restarting_state } else { &running }),
                );
            }
        }
    }
}
