//! The records of the synthetic world, shaped after the NerdGraph objects they back.

/// An account the API user can see.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Account id.
    pub id: i64,
    /// Display name.
    pub name: String,
}

/// What kind of entity, with the fields only that kind has.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityKind {
    /// An APM application (`ApmApplicationEntity`).
    ApmApplication {
        /// The APM application id.
        application_id: i64,
        /// Agent language.
        language: String,
    },
    /// An infrastructure host (`InfrastructureHostEntity`).
    InfrastructureHost,
    /// A dashboard or one of its pages (`DashboardEntity`).
    Dashboard {
        /// For a page, the GUID of its dashboard.
        parent_guid: Option<String>,
    },
    /// A browser application (`BrowserApplicationEntity`).
    BrowserApplication {
        /// The browser application id.
        application_id: i64,
        /// The id of the APM application that serves it.
        serving_apm_application_id: Option<i64>,
    },
    /// A synthetic monitor (`SyntheticMonitorEntity`).
    SyntheticMonitor {
        /// The monitor id (a UUID; also the last part of the GUID).
        monitor_id: String,
        /// `SyntheticMonitorType` value: `SIMPLE`, `SCRIPT_API`, `BROWSER`, …
        monitor_type: String,
        /// The URL a `SIMPLE` or `BROWSER` monitor checks.
        monitored_url: Option<String>,
        /// Minutes between runs.
        period_minutes: i64,
    },
    /// An infrastructure integration entity such as a Kubernetes cluster
    /// (`GenericInfrastructureEntity`).
    GenericInfrastructure,
}

impl EntityKind {
    /// The GraphQL object type of the entity.
    pub fn entity_typename(&self) -> &'static str {
        match self {
            EntityKind::ApmApplication { .. } => "ApmApplicationEntity",
            EntityKind::InfrastructureHost => "InfrastructureHostEntity",
            EntityKind::Dashboard { .. } => "DashboardEntity",
            EntityKind::BrowserApplication { .. } => "BrowserApplicationEntity",
            EntityKind::SyntheticMonitor { .. } => "SyntheticMonitorEntity",
            EntityKind::GenericInfrastructure => "GenericInfrastructureEntity",
        }
    }

    /// The GraphQL object type of the entity's outline (search results).
    pub fn outline_typename(&self) -> &'static str {
        match self {
            EntityKind::ApmApplication { .. } => "ApmApplicationEntityOutline",
            EntityKind::InfrastructureHost => "InfrastructureHostEntityOutline",
            EntityKind::Dashboard { .. } => "DashboardEntityOutline",
            EntityKind::BrowserApplication { .. } => "BrowserApplicationEntityOutline",
            EntityKind::SyntheticMonitor { .. } => "SyntheticMonitorEntityOutline",
            EntityKind::GenericInfrastructure => "GenericInfrastructureEntityOutline",
        }
    }

    /// The `EntityType` enum value.
    pub fn entity_type_enum(&self) -> &'static str {
        match self {
            EntityKind::ApmApplication { .. } => "APM_APPLICATION_ENTITY",
            EntityKind::InfrastructureHost => "INFRASTRUCTURE_HOST_ENTITY",
            EntityKind::Dashboard { .. } => "DASHBOARD_ENTITY",
            EntityKind::BrowserApplication { .. } => "BROWSER_APPLICATION_ENTITY",
            EntityKind::SyntheticMonitor { .. } => "SYNTHETIC_MONITOR_ENTITY",
            EntityKind::GenericInfrastructure => "GENERIC_INFRASTRUCTURE_ENTITY",
        }
    }
}

/// An entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// New Relic GUID.
    pub guid: String,
    /// Name.
    pub name: String,
    /// Owning account.
    pub account_id: i64,
    /// Domain (`APM`, `INFRA`, `VIZ`, `BROWSER`, `SYNTH`).
    pub domain: &'static str,
    /// Type within the domain (`APPLICATION`, `HOST`, `DASHBOARD`, `MONITOR`,
    /// `KUBERNETESCLUSTER`).
    pub entity_type_tag: &'static str,
    /// Kind-specific fields.
    pub kind: EntityKind,
    /// Whether it reports data.
    pub reporting: bool,
    /// `EntityAlertSeverity` value.
    pub alert_severity: &'static str,
    /// Tags, each with its values.
    pub tags: Vec<(String, Vec<String>)>,
    /// Link into the New Relic UI.
    pub permalink: String,
}

impl Entity {
    /// The values of a tag (empty when absent), compared case-insensitively by key.
    pub fn tag_values(&self, key: &str) -> &[String] {
        self.tags
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, values)| values.as_slice())
            .unwrap_or_default()
    }
}

/// A directed relationship between two entities.
#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    /// Source entity.
    pub source_guid: String,
    /// Target entity.
    pub target_guid: String,
    /// `EntityRelationshipEdgeType` value (`CALLS`, `HOSTS`).
    pub kind: &'static str,
    /// When it was detected (epoch ms).
    pub created_at: i64,
}

/// An alert policy.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    /// Policy id (GraphQL `ID`).
    pub id: String,
    /// Owning account.
    pub account_id: i64,
    /// Name.
    pub name: String,
    /// `AlertsIncidentPreference` value.
    pub incident_preference: String,
}

/// A threshold of an NRQL condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// `CRITICAL` or `WARNING`.
    pub priority: String,
    /// `ABOVE`, `BELOW`, …
    pub operator: String,
    /// Threshold value.
    pub threshold: f64,
    /// Seconds the threshold must hold.
    pub threshold_duration: i64,
    /// `ALL` or `AT_LEAST_ONCE`.
    pub threshold_occurrences: String,
}

/// A static NRQL alert condition.
#[derive(Debug, Clone, PartialEq)]
pub struct NrqlCondition {
    /// Condition id.
    pub id: String,
    /// Owning account.
    pub account_id: i64,
    /// Policy it belongs to.
    pub policy_id: String,
    /// Name.
    pub name: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Description.
    pub description: Option<String>,
    /// The NRQL query it evaluates.
    pub query: String,
    /// Runbook link.
    pub runbook_url: Option<String>,
    /// Thresholds.
    pub terms: Vec<Term>,
    /// Signal aggregation window (seconds).
    pub aggregation_window: i64,
    /// `EVENT_FLOW`, `EVENT_TIMER` or `CADENCE`.
    pub aggregation_method: String,
    /// Signal aggregation delay (seconds).
    pub aggregation_delay: Option<i64>,
    /// Seconds after which open incidents close.
    pub violation_time_limit_seconds: i64,
    /// The GUID of the condition entity.
    pub entity_guid: String,
}

/// An Applied Intelligence issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Issue id.
    pub issue_id: String,
    /// Owning account.
    pub account_id: i64,
    /// Title lines.
    pub title: Vec<String>,
    /// Description lines.
    pub description: Vec<String>,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`.
    pub priority: String,
    /// `CREATED`, `ACTIVATED`, `DEACTIVATED`, `CLOSED`.
    pub state: String,
    /// Created (epoch ms).
    pub created_at: i64,
    /// Activated (epoch ms).
    pub activated_at: Option<i64>,
    /// Closed (epoch ms).
    pub closed_at: Option<i64>,
    /// Last update (epoch ms).
    pub updated_at: i64,
    /// Acknowledged (epoch ms).
    pub acknowledged_at: Option<i64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// Entities involved.
    pub entity_guids: Vec<String>,
    /// Their names.
    pub entity_names: Vec<String>,
    /// Their types.
    pub entity_types: Vec<String>,
    /// Conditions that opened it.
    pub condition_names: Vec<String>,
    /// Policies of those conditions.
    pub policy_names: Vec<String>,
    /// Policy ids.
    pub policy_ids: Vec<i64>,
    /// Number of incidents.
    pub total_incidents: i64,
    /// Incident ids.
    pub incident_ids: Vec<String>,
    /// Data sources.
    pub sources: Vec<String>,
    /// `NOT_MUTED`, …
    pub muting_state: String,
}

/// An incident of an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Incident id.
    pub incident_id: String,
    /// The issue it belongs to.
    pub issue_id: String,
    /// Owning account.
    pub account_id: i64,
    /// Title.
    pub title: String,
    /// Priority.
    pub priority: String,
    /// `CREATED` or `CLOSED`.
    pub state: String,
    /// Created (epoch ms).
    pub created_at: i64,
    /// Closed (epoch ms).
    pub closed_at: Option<i64>,
    /// Entity involved.
    pub entity_guid: String,
    /// Its name.
    pub entity_name: String,
    /// Its type.
    pub entity_type: String,
    /// Policy id.
    pub policy_id: i64,
}

/// A change-tracking deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Deployment id.
    pub deployment_id: String,
    /// Deployed entity.
    pub entity_guid: String,
    /// Account of the entity.
    pub account_id: i64,
    /// Version.
    pub version: String,
    /// Commit SHA.
    pub commit: Option<String>,
    /// Who deployed.
    pub user: Option<String>,
    /// When (epoch ms).
    pub timestamp: i64,
    /// Description.
    pub description: Option<String>,
    /// `ChangeTrackingDeploymentType` value.
    pub deployment_type: String,
    /// Changelog link.
    pub changelog: Option<String>,
    /// Group id.
    pub group_id: Option<String>,
    /// Deep link.
    pub deep_link: Option<String>,
}

/// A widget on a dashboard page.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardWidget {
    /// Widget id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Visualization id (`viz.line`, `viz.billboard`, …).
    pub visualization: String,
    /// Grid column (1-based).
    pub column: i64,
    /// Grid row (1-based).
    pub row: i64,
    /// Width in columns.
    pub width: i64,
    /// Height in rows.
    pub height: i64,
    /// Raw widget configuration.
    pub raw_configuration: serde_json::Value,
}

/// A page of a dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardPage {
    /// Page GUID.
    pub guid: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Widgets.
    pub widgets: Vec<DashboardWidget>,
}

/// A dashboard's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// Dashboard GUID (also an entity).
    pub guid: String,
    /// Owning account.
    pub account_id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `DashboardEntityPermissions` value.
    pub permissions: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Updated (RFC 3339).
    pub updated_at: String,
    /// Pages.
    pub pages: Vec<DashboardPage>,
    /// Template variables: name, title, type.
    pub variables: Vec<(String, Option<String>, String)>,
}
