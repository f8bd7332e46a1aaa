//! Which tier a NerdGraph mutation field is in, by an explicit list of NerdGraph's mutation
//! fields (every field of the real schema's mutation root; a test keeps the list and the schema
//! in step).
//!
//! Ordinary writes are an allow-list: what an on-call engineer may do once a person has
//! confirmed it, reversible and silencing nothing. Administration is what mints, stores or
//! revokes credentials and access, or creates, changes or cancels accounts, organizations,
//! users and roles. Every other field, including one New Relic adds after this list was
//! written, is destructive: it deletes, replaces whole lists, drops or expires data, mutes or
//! turns off what alerts, or changes where data goes or what is collected.
//!
//! A name's words decide nothing here: `dashboardUndelete` restores a dashboard, while
//! `alertsMutingRuleCreate` silences alerting without saying so.

use std::fmt;

/// How much a mutation field may change, weakest first; a document is as strict as its
/// strictest field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MutationTier {
    /// Reversible and silencing nothing: runs with writes enabled.
    OrdinaryWrite,
    /// Deletes, silences, drops or redirects data, or is not on the lists: needs destructive access.
    Destructive,
    /// Credentials, access and accounts: needs the administration switch as well.
    Administration,
}

impl fmt::Display for MutationTier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::OrdinaryWrite => "an ordinary write",
            Self::Destructive => "destructive",
            Self::Administration => "an administration mutation",
        })
    }
}

/// One mutation field as classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified<'a> {
    pub field: &'a str,
    pub tier: MutationTier,
    /// Why, where the name does not say it; for a field on no list, that it is unknown.
    pub reason: &'static str,
    /// Whether the field is on a list (an unknown field is treated as destructive).
    pub listed: bool,
}

/// Said of a field on no list.
pub const UNKNOWN_REASON: &str = "not a NerdGraph mutation this server knows, so treated as destructive";

/// The tier of one mutation field; a field on no list is destructive.
pub fn classify(field: &str) -> Classified<'_> {
    let tiers = [
        (MutationTier::OrdinaryWrite, ORDINARY_WRITES),
        (MutationTier::Destructive, DESTRUCTIVE),
        (MutationTier::Administration, ADMINISTRATION),
    ];
    for (tier, list) in tiers {
        if let Some((_, reason)) = list.iter().find(|(name, _)| *name == field) {
            return Classified { field, tier, reason, listed: true };
        }
    }
    Classified { field, tier: MutationTier::Destructive, reason: UNKNOWN_REASON, listed: false }
}

/// Every field classified, in the order given.
pub fn classify_all<'a>(fields: impl IntoIterator<Item = &'a str>) -> Vec<Classified<'a>> {
    fields.into_iter().map(classify).collect()
}

/// Every listed field with its tier, for the schema check.
#[cfg(test)]
fn listed() -> impl Iterator<Item = (&'static str, MutationTier)> {
    let ordinary = ORDINARY_WRITES.iter().map(|(name, _)| (*name, MutationTier::OrdinaryWrite));
    let destructive = DESTRUCTIVE.iter().map(|(name, _)| (*name, MutationTier::Destructive));
    let administration = ADMINISTRATION.iter().map(|(name, _)| (*name, MutationTier::Administration));
    ordinary.chain(destructive).chain(administration)
}

/// The allow-list: (field, reason where the name does not say why it is safe).
const ORDINARY_WRITES: &[(&str, &str)] = &[
    ("agentApplicationAddAppToEntityPlatform", "reindexes an application that already reports"),
    ("agentApplicationCreateBrowser", "sets up browser monitoring: adds data, mints no key"),
    ("agentApplicationEnableApmBrowser", "turns browser monitoring on"),
    ("aiDecisionsCreateSuggestion", "a suggestion merges nothing until accepted"),
    ("aiDecisionsDeclineSuggestion", "a suggestion merges nothing"),
    (
        "aiDecisionsDisableRule",
        "stops merging incidents, so more are seen, not fewer; enabling it again undoes it",
    ),
    ("aiDecisionsFindApplicableIncidents", "a search; changes nothing"),
    ("aiDecisionsPostponeSuggestion", "a suggestion merges nothing"),
    ("aiDecisionsRecordMergeFeedback", "feedback only"),
    ("aiDecisionsSimulate", "a simulation; changes nothing"),
    ("aiIssuesAckIssue", ""),
    ("aiIssuesCloseIncident", ""),
    ("aiIssuesResolveIssue", ""),
    ("aiIssuesUnackIssue", ""),
    ("aiNotificationsCreateChannel", "a new channel silences nothing; where it sends is its destination's"),
    ("aiNotificationsTestChannel", "sends a test notification"),
    ("aiNotificationsTestChannelById", "sends a test notification"),
    ("aiNotificationsTestDestination", "tests a connection"),
    ("aiNotificationsTestDestinationById", "tests a connection"),
    ("aiTopologyCollectorCreateEdges", ""),
    ("aiTopologyCollectorCreateVertices", ""),
    ("aiWorkflowsCreateWorkflow", "a new workflow notifies more, never less"),
    ("aiWorkflowsTestWorkflow", "sends a test notification"),
    ("alertsNotificationChannelsAddToPolicy", "notifies more channels of an existing policy"),
    ("alertsNrqlConditionBaselineCreate", ""),
    ("alertsNrqlConditionOutlierCreate", ""),
    ("alertsNrqlConditionStaticCreate", ""),
    ("alertsPolicyCreate", ""),
    ("alertsPolicyUpdate", "a policy's name and incident preference only"),
    ("apmApplicationEntityChangeSettings", "sets the apdex target only"),
    ("changeTrackingCreateDeployment", "a deployment marker"),
    ("changeTrackingCreateEvent", "a change-tracking event"),
    ("cloudRenameAccount", "a linked cloud account's display name only"),
    ("collaborationCreateCodeMark", ""),
    ("collaborationCreateComment", ""),
    ("collaborationCreateContext", ""),
    ("collaborationCreateEmail", "an address to mention"),
    ("collaborationCreateMention", ""),
    ("collaborationCreateThread", ""),
    ("collaborationFeedbackOnBotResponse", ""),
    ("collaborationGetUploadUrl", "a URL to upload a file to a thread"),
    ("collaborationRegisterEmail", "maps the caller's own address to mentions"),
    ("collaborationSendMessage", ""),
    ("collaborationSocketSubscribe", ""),
    ("collaborationSubscribeToThread", ""),
    ("collaborationUnsubscribeFromThread", "the caller's own thread subscription"),
    ("collaborationUpdateComment", ""),
    ("collaborationUpdateContextAddComment", "a counter"),
    ("collaborationUpdateContextAddThread", "a counter"),
    ("collaborationUpdateSubscriptionReadInfo", "unread counts"),
    ("collaborationUpdateThreadAddComment", ""),
    ("collaborationUpdateThreadStatus", ""),
    ("dashboardAddWidgetsToPage", ""),
    ("dashboardCreate", ""),
    ("dashboardUndelete", "restores a deleted dashboard"),
    ("dashboardUpdate", "on-call dashboard editing; the preview shows the whole new dashboard"),
    ("dashboardUpdatePage", ""),
    ("dashboardUpdateWidgetsInPage", ""),
    ("entityManagementAddCollectionMembers", ""),
    ("entityManagementCreateAiAgent", ""),
    ("entityManagementCreateAiTool", ""),
    ("entityManagementCreateCollection", ""),
    ("entityManagementCreateConfluenceRagSettings", "settings of an integration that already exists"),
    ("entityManagementCreateGitRepository", ""),
    ("entityManagementCreateInboxIssueCategory", ""),
    ("entityManagementCreateMcpServer", "an entity describing a server"),
    ("entityManagementCreatePerformanceInboxSetting", ""),
    ("entityManagementCreateRagTool", ""),
    ("entityManagementCreateRelationship", ""),
    ("entityManagementCreateScorecard", ""),
    ("entityManagementCreateScorecardRule", ""),
    ("entityManagementCreateTeam", ""),
    ("entityManagementUpdate", ""),
    ("entityManagementUpdateAiAgent", ""),
    ("entityManagementUpdateAiTool", ""),
    ("entityManagementUpdateCollection", ""),
    ("entityManagementUpdateConfluenceRagSettings", ""),
    ("entityManagementUpdateGitRepository", ""),
    ("entityManagementUpdateInboxIssueCategory", ""),
    ("entityManagementUpdateMcpServer", ""),
    ("entityManagementUpdatePerformanceInboxSetting", ""),
    ("entityManagementUpdateRagTool", ""),
    ("entityManagementUpdateRelationship", ""),
    ("entityManagementUpdateScorecard", ""),
    ("entityManagementUpdateScorecardRule", ""),
    ("entityManagementUpdateTeam", ""),
    ("entityRelationshipUserDefinedCreateOrReplace", "one relationship between two entities"),
    ("errorsInboxAssignErrorGroup", ""),
    ("eventsToMetricsCreateRule", "adds metrics; the events stay"),
    ("historicalDataExportCancelExport", ""),
    ("installationCreateInstallStatus", "install bookkeeping"),
    ("installationCreateRecipeEvent", "install bookkeeping"),
    ("keyTransactionCreate", ""),
    ("keyTransactionUpdate", ""),
    ("logConfigurationsCreateParsingRule", "adds attributes; the message is kept"),
    ("logConfigurationsUpdateParsingRule", "adds attributes; the message is kept"),
    ("machineLearningAddDocumentIndex", ""),
    ("machineLearningAddFileDataSource", ""),
    ("machineLearningAddStreamDataSource", ""),
    ("machineLearningCreateFileDataSource", ""),
    ("machineLearningCreateProject", ""),
    ("machineLearningCreateStreamDataSource", ""),
    ("machineLearningIndexConnector", ""),
    ("machineLearningStartStreamDataSource", ""),
    ("machineLearningUpdateFileDataSource", ""),
    ("machineLearningUpdateProject", ""),
    ("machineLearningUpdateStreamDataSource", ""),
    ("mobilePushNotificationSendTestPush", ""),
    ("mobilePushNotificationSendTestPushToAll", "the caller's own devices"),
    ("nerdpackCreate", "registers an app id; nothing runs"),
    ("nr1CatalogInstallAlertPolicyTemplate", "creates a policy and its conditions from a template"),
    ("nr1CatalogInstallDashboardTemplate", "creates a dashboard from a template"),
    ("nrqlCancelQuery", "stops one running query"),
    ("referenceEntityCreateOrUpdateRepository", ""),
    ("serviceLevelCreate", ""),
    ("serviceLevelUpdate", ""),
    ("syntheticsCreateBrokenLinksMonitor", ""),
    ("syntheticsCreateCertCheckMonitor", ""),
    ("syntheticsCreateSimpleBrowserMonitor", ""),
    ("syntheticsCreateSimpleMonitor", ""),
    ("taggingAddTagsToEntity", "adds tags, keeping the existing ones"),
    ("workloadCreate", ""),
    ("workloadDuplicate", ""),
    ("workloadUpdate", ""),
];

/// Needs destructive access: (field, reason where the name does not say it).
const DESTRUCTIVE: &[(&str, &str)] = &[
    ("agentApplicationDelete", ""),
    ("agentApplicationSegmentsReplaceAllBrowserSegmentAllowList", "replaces a whole allow-list"),
    (
        "agentApplicationSettingsUpdate",
        "can turn off traces and ignore error classes, which silences error alerts",
    ),
    ("aiDecisionsAcceptSuggestion", "deploys a rule that merges incidents, so a broad one hides new alerts"),
    ("aiDecisionsCreateImplicitRule", "a rule that merges incidents can hide new alerts"),
    ("aiDecisionsCreateRule", "a rule that merges incidents can hide new alerts"),
    ("aiDecisionsDeleteMergeFeedback", ""),
    ("aiDecisionsDeleteRule", ""),
    ("aiDecisionsDeleteSuggestion", ""),
    ("aiDecisionsEnableRule", "a rule that merges incidents can hide new alerts"),
    ("aiDecisionsUpdateImplicitRule", "a rule that merges incidents can hide new alerts"),
    ("aiDecisionsUpdateRule", "a rule that merges incidents can hide new alerts"),
    ("aiIssuesUpdateGracePeriod", "delays when an issue notifies anyone"),
    ("aiIssuesUpdateIssueTtl", "keeps issues open longer, so new incidents fold into old issues"),
    ("aiNotificationsCreateDestination", "sends alert data to an address outside New Relic"),
    ("aiNotificationsDeleteChannel", ""),
    ("aiNotificationsDeleteDestination", ""),
    ("aiNotificationsUpdateChannel", "can turn a channel off or point it elsewhere"),
    ("aiNotificationsUpdateDestination", "can point notifications elsewhere or break them"),
    ("aiTopologyCollectorDeleteEdges", ""),
    ("aiTopologyCollectorDeleteVertices", ""),
    ("aiWorkflowsDeleteWorkflow", ""),
    ("aiWorkflowsUpdateWorkflow", "can turn a workflow off or narrow its filter, so issues stop notifying"),
    ("alertsConditionDelete", ""),
    ("alertsMutingRuleCreate", "a muting rule silences alerting"),
    ("alertsMutingRuleDelete", ""),
    ("alertsMutingRuleUpdate", "a muting rule silences alerting"),
    ("alertsNotificationChannelCreate", "sends alert data to an address outside New Relic"),
    ("alertsNotificationChannelDelete", ""),
    ("alertsNotificationChannelUpdate", "can point notifications elsewhere or break them"),
    ("alertsNotificationChannelsRemoveFromPolicy", "stops a policy notifying those channels"),
    ("alertsNrqlConditionBaselineUpdate", "can set enabled: false, which silences the condition"),
    ("alertsNrqlConditionOutlierUpdate", "can set enabled: false, which silences the condition"),
    ("alertsNrqlConditionStaticUpdate", "can set enabled: false, which silences the condition"),
    ("alertsPolicyDelete", "archives every condition of the policy"),
    ("cloudConfigureIntegration", "changes what a cloud integration collects"),
    ("cloudDisableIntegration", "stops collecting the integration's data"),
    ("cloudUnlinkAccount", "stops collecting the account's data"),
    ("collaborationCreateExternalServiceConnection", "connects a service outside New Relic"),
    ("collaborationDeactivateCodeMark", ""),
    ("collaborationDeactivateComment", ""),
    ("collaborationDeactivateContext", ""),
    ("collaborationDeactivateExternalServiceConnection", ""),
    ("collaborationDeactivateFile", ""),
    ("collaborationDeactivateMention", ""),
    ("collaborationDeactivateThread", ""),
    ("collaborationSetExternalServiceConnectionChannel", "changes where messages go outside New Relic"),
    ("dashboardDelete", ""),
    ("dataManagementCopyRetentions", "overwrites other accounts' retention rules"),
    ("dataManagementCreateAccountLimit", "data over a limit is dropped"),
    ("dataManagementCreateEventRetentionRule", "a shorter retention expires stored data"),
    ("dataManagementCreateRetentionRules", "a shorter retention expires stored data"),
    ("dataManagementDeleteEventRetentionRule", ""),
    ("dataManagementUpdateFeatureSettings", "account-wide data settings"),
    ("edgeCreateTraceFilterRules", "drops matching spans"),
    ("edgeCreateTraceObserver", "changes where traces go"),
    ("edgeDeleteTraceFilterRules", ""),
    ("edgeDeleteTraceObservers", ""),
    ("edgeUpdateTraceObservers", "can turn trace observers off"),
    ("entityDelete", ""),
    ("entityGoldenMetricsOverride", "replaces the whole set of golden metrics"),
    ("entityGoldenMetricsReset", "drops the overrides"),
    ("entityGoldenTagsOverride", "replaces the whole set of golden tags"),
    ("entityGoldenTagsReset", "drops the overrides"),
    ("entityManagementCreateConfluenceIntegration", "connects a service outside New Relic, with its secret"),
    ("entityManagementCreatePipelineCloudRule", "a pipeline cloud rule drops data as it arrives"),
    ("entityManagementDelete", ""),
    ("entityManagementDeleteRelationship", ""),
    ("entityManagementRemoveCollectionMembers", ""),
    ("entityManagementUpdateConfluenceIntegration", "changes a connection to a service outside New Relic"),
    ("entityManagementUpdatePipelineCloudRule", "a pipeline cloud rule drops data as it arrives"),
    ("entityManagementUpdateTeamsOrganizationSettings", "organization-wide settings"),
    ("entityRelationshipUserDefinedDelete", ""),
    ("errorsInboxDeleteErrorGroupResource", ""),
    ("errorsInboxUpdateErrorGroupState", "can mark error groups ignored, which hides them"),
    ("eventsToMetricsDeleteRule", ""),
    ("eventsToMetricsUpdateRule", "can turn off a rule whose metrics alerts may read"),
    ("fleetControlAddFleetMembers", "members get the fleet's agent configuration"),
    ("fleetControlCreateFleet", "fleet control changes what agents on hosts run"),
    ("fleetControlCreateFleetDeployment", "agent configuration for hosts"),
    ("fleetControlDeleteFleet", ""),
    ("fleetControlDeleteFleetDeployment", ""),
    ("fleetControlDeploy", "pushes agent configuration to hosts"),
    ("fleetControlDeployFleet", "pushes agent configuration to hosts"),
    ("fleetControlRemoveFleetMembers", ""),
    ("fleetControlUpdateFleet", "fleet control changes what agents on hosts run"),
    ("fleetControlUpdateFleetDeployment", "agent configuration for hosts"),
    ("historicalDataExportCreateExport", "copies stored data out for download"),
    ("incidentIntelligenceEnvironmentCreateEnvironment", "account-wide incident intelligence setup"),
    ("incidentIntelligenceEnvironmentDeleteEnvironment", ""),
    ("installationDeleteInstall", ""),
    ("keyTransactionDelete", ""),
    ("logConfigurationsCreateDataPartitionRule", "moves matching logs to a partition with its own retention"),
    ("logConfigurationsCreateObfuscationExpression", "masks log data as it arrives, for good"),
    ("logConfigurationsCreateObfuscationRule", "masks log data as it arrives, for good"),
    ("logConfigurationsDeleteDataPartitionRule", ""),
    ("logConfigurationsDeleteObfuscationExpression", ""),
    ("logConfigurationsDeleteObfuscationRule", ""),
    ("logConfigurationsDeleteParsingRule", ""),
    ("logConfigurationsUpdateDataPartitionRule", "moves matching logs to a partition with its own retention"),
    ("logConfigurationsUpdateLiveArchiveConfiguration", "how long logs are archived"),
    ("logConfigurationsUpdateObfuscationExpression", "masks log data as it arrives, for good"),
    ("logConfigurationsUpdateObfuscationRule", "masks log data as it arrives, for good"),
    ("logConfigurationsUpsertPipelineConfiguration", "the log pipeline can drop data"),
    ("machineLearningDeleteConnector", ""),
    ("machineLearningDeleteFileDataSource", ""),
    ("machineLearningDeleteProject", ""),
    ("machineLearningDeleteStreamDataSource", ""),
    ("machineLearningHaltStreamDataSource", "stops a data source"),
    ("machineLearningRemoveDocumentIndex", ""),
    ("machineLearningRemoveFileDataSource", ""),
    ("machineLearningRemoveStreamDataSource", ""),
    ("metricNormalizationCreateRule", "can ignore or rename metrics as they arrive"),
    ("metricNormalizationDisableRule", "changes how arriving metrics are named"),
    ("metricNormalizationEditRule", "can ignore or rename metrics as they arrive"),
    ("metricNormalizationEnableRule", "can ignore or rename metrics as they arrive"),
    ("mobilePushNotificationRemoveDevice", "stops notifications to a device"),
    ("nerdStorageDeleteCollection", ""),
    ("nerdStorageDeleteDocument", ""),
    ("nerdStorageWriteDocument", "overwrites the document when it exists"),
    ("nerdpackRemoveVersionTag", "unpublishes an app version"),
    ("nerdpackTagVersion", "changes which app code users run"),
    ("nr1CatalogSubmitMetadata", "publishes what the catalog says about an app"),
    ("nrqlDropRulesCreate", "a drop rule discards data as it arrives"),
    ("nrqlDropRulesDelete", ""),
    ("pixieUnlinkPixieProject", "stops the project's data"),
    ("serviceLevelDelete", ""),
    ("streamingExportCreateRule", "streams data out of New Relic"),
    ("streamingExportDeleteRule", ""),
    ("streamingExportDisableRule", "stops an export that something outside relies on"),
    ("streamingExportEnableRule", "streams data out of New Relic"),
    ("streamingExportUpdateRule", "changes what is streamed out of New Relic"),
    ("syntheticsCreateDailyMonitorDowntime", "a downtime silences monitors"),
    ("syntheticsCreateMonthlyMonitorDowntime", "a downtime silences monitors"),
    ("syntheticsCreateOnceMonitorDowntime", "a downtime silences monitors"),
    ("syntheticsCreateWeeklyMonitorDowntime", "a downtime silences monitors"),
    ("syntheticsDeleteMonitor", ""),
    ("syntheticsDeleteMonitorDowntime", ""),
    ("syntheticsDeletePrivateLocation", ""),
    ("syntheticsEditMonitorDowntime", "a downtime silences monitors"),
    ("syntheticsPurgePrivateLocationQueue", "drops queued checks"),
    ("syntheticsUpdateBrokenLinksMonitor", "can mute or disable the monitor"),
    ("syntheticsUpdateCertCheckMonitor", "can mute or disable the monitor"),
    ("syntheticsUpdatePrivateLocation", "changes how private monitors run"),
    ("syntheticsUpdateSimpleBrowserMonitor", "can mute or disable the monitor"),
    ("syntheticsUpdateSimpleMonitor", "can mute or disable the monitor"),
    ("taggingDeleteTagFromEntity", ""),
    ("taggingDeleteTagValuesFromEntity", ""),
    ("taggingReplaceTagsOnEntity", "replaces an entity's whole set of tags"),
    ("workloadDelete", ""),
];

/// Refused unless administration mutations are enabled: (field, reason where not obvious).
const ADMINISTRATION: &[(&str, &str)] = &[
    ("accountManagementCancelAccount", "cancels a New Relic account"),
    ("accountManagementCreateAccount", "creates a New Relic account"),
    ("accountManagementUpdateAccount", "changes a New Relic account"),
    ("agentApplicationCreateMobile", "mints the mobile application's token"),
    ("alertsUpdateCrossAccountElection", "lets other accounts' conditions read this account's data"),
    ("alertsUpdateCrossAccountElections", "lets other accounts' conditions read these accounts' data"),
    ("apiAccessCreateKeys", "mints API keys"),
    ("apiAccessDeleteKeys", "revokes API keys"),
    ("apiAccessUpdateKeys", "changes API keys"),
    ("authenticationDomainDelete", "removes how users sign in"),
    ("authorizationManagementGrantAccess", "grants access"),
    ("authorizationManagementRevokeAccess", "revokes access"),
    ("authorizationManagementUpdateAccess", "changes access grants"),
    ("cloudLinkAccount", "hands New Relic access to a cloud provider account"),
    ("cloudMigrateAwsGovCloudToAssumeRole", "changes how New Relic signs in to AWS"),
    ("cloudOciGenerateInstrumentedPayloadUrl", "mints pre-signed URLs for cloud setup"),
    ("cloudOciGenerateLogGroupInstrumentedPayloadUrl", "mints pre-signed URLs for cloud setup"),
    ("cloudUpdateAccount", "changes a linked cloud account, its credentials included"),
    ("customRoleCreate", "a role grants access"),
    ("customRoleDelete", "a role grants access"),
    ("customRoleUpdate", "a role grants access"),
    ("dashboardCreateLiveUrl", "a public URL anyone can open"),
    ("dashboardCreateSnapshotUrl", "a public URL anyone can open"),
    ("dashboardResetLiveUrlPassword", "access to a public URL"),
    ("dashboardRevokeLiveUrl", "access to a public URL"),
    ("dashboardUpdateLiveUrl", "access to a public URL"),
    ("dashboardUpdateLiveUrlAuth", "access to a public URL"),
    ("dashboardUpdateLiveUrlCreationPolicies", "who may create public URLs"),
    ("dashboardWidgetRevokeLiveUrl", "access to a public URL"),
    ("dataAccessPolicyCreate", "who may read which data"),
    ("dataAccessPolicyDelete", "who may read which data"),
    ("dataAccessPolicyUpdate", "who may read which data"),
    ("incidentIntelligenceEnvironmentConsentAccounts", "a legal consent for accounts"),
    (
        "incidentIntelligenceEnvironmentConsentAuthorizedAccounts",
        "a legal consent for every account of the user",
    ),
    ("incidentIntelligenceEnvironmentDissentAccounts", "a legal consent for accounts"),
    ("nerdStorageVaultDeleteSecret", "a stored secret"),
    ("nerdStorageVaultWriteSecret", "a stored secret"),
    ("nerdpackAddAllowedAccounts", "which accounts may use an app"),
    ("nerdpackRemoveAllowedAccounts", "which accounts may use an app"),
    ("nerdpackSubscribeAccounts", "which accounts may use an app"),
    ("nerdpackUnsubscribeAccounts", "which accounts may use an app"),
    ("organizationCreate", ""),
    ("organizationCreateSharedAccount", "shares an account with another organization"),
    ("organizationProvisioningUpdatePartnerSubscription", "an account's entitlements"),
    ("organizationRevokeSharedAccount", "an account shared with another organization"),
    ("organizationUpdate", ""),
    ("organizationUpdateSharedAccount", "an account shared with another organization"),
    ("pixieLinkPixieProject", "hands New Relic a Pixie API key"),
    ("pixieRecordPixieTosAcceptance", "accepts terms of service for an account"),
    ("secretsManagementCreateSecret", "a stored secret"),
    ("secretsManagementDeleteSecret", "a stored secret"),
    ("secretsManagementDeleteSecretVersion", "a stored secret"),
    ("secretsManagementRecoverSecret", "a stored secret"),
    ("secretsManagementRecoverSecretVersion", "a stored secret"),
    ("secretsManagementUpdateSecret", "a stored secret"),
    ("sessionsRevoke", "signs users out"),
    ("syntheticsCreatePrivateLocation", "mints the key private minions sign in with"),
    (
        "syntheticsCreateScriptApiMonitor",
        "runs a script that can read secure credentials and send them anywhere",
    ),
    (
        "syntheticsCreateScriptBrowserMonitor",
        "runs a script that can read secure credentials and send them anywhere",
    ),
    ("syntheticsCreateSecureCredential", "a stored credential"),
    ("syntheticsCreateStepMonitor", "runs steps that can read secure credentials and send them anywhere"),
    ("syntheticsDeleteSecureCredential", "a stored credential"),
    (
        "syntheticsUpdateScriptApiMonitor",
        "runs a script that can read secure credentials and send them anywhere",
    ),
    (
        "syntheticsUpdateScriptBrowserMonitor",
        "runs a script that can read secure credentials and send them anywhere",
    ),
    ("syntheticsUpdateSecureCredential", "a stored credential"),
    ("syntheticsUpdateStepMonitor", "runs steps that can read secure credentials and send them anywhere"),
    ("systemIdentityAddToGroups", "machine identities and their access"),
    ("systemIdentityCreate", "machine identities and their access"),
    ("systemIdentityCreateGroup", "machine identities and their access"),
    ("systemIdentityDelete", "machine identities and their access"),
    ("systemIdentityDeleteGroup", "machine identities and their access"),
    ("systemIdentityRemoveFromGroups", "machine identities and their access"),
    ("systemIdentityUpdate", "machine identities and their access"),
    ("systemIdentityUpdateGroup", "machine identities and their access"),
    ("userManagementAddUsersToGroups", "groups carry roles"),
    ("userManagementCreateGroup", "groups carry roles"),
    ("userManagementCreateUser", ""),
    ("userManagementDeleteGroup", "groups carry roles"),
    ("userManagementDeleteUser", ""),
    ("userManagementRemoveUsersFromGroups", "groups carry roles"),
    ("userManagementUpdateGroup", "groups carry roles"),
    ("userManagementUpdateUser", ""),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use apollo_compiler::Schema;
    use apollo_compiler::ast::OperationType;

    use super::*;

    /// The mutation root's fields in New Relic's schema beside the repository, or `None`
    /// (with a message) where the file is absent.
    fn schema_mutation_fields() -> Option<BTreeSet<String>> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/nerdgraph/schema.graphql");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping the mutation classification check: {} is absent", path.display());
            return None;
        };
        // The dump is an introspection export: take it as New Relic serves it.
        let schema = match Schema::parse(text, "schema.graphql") {
            Ok(schema) => schema,
            Err(with_errors) => with_errors.partial,
        };
        let root = schema.root_operation(OperationType::Mutation).expect("the schema has a mutation root");
        let object = schema.get_object(root).expect("the mutation root is an object type");
        let fields: BTreeSet<String> = object.fields.keys().map(|name| name.to_string()).collect();
        assert!(fields.len() > 300, "only {} mutation fields parsed from {}", fields.len(), path.display());
        Some(fields)
    }

    #[test]
    fn every_mutation_field_of_the_real_schema_is_classified() {
        let Some(fields) = schema_mutation_fields() else { return };
        let unclassified: Vec<&str> =
            fields.iter().map(String::as_str).filter(|field| !classify(field).listed).collect();
        assert!(
            unclassified.is_empty(),
            "{} mutation field(s) of the schema are on no list; add each to ORDINARY_WRITES, DESTRUCTIVE or \
             ADMINISTRATION in src/tools/raw/mutations.rs: {}",
            unclassified.len(),
            unclassified.join(", ")
        );
    }

    #[test]
    fn every_listed_field_is_in_the_real_schema() {
        let Some(fields) = schema_mutation_fields() else { return };
        let stale: Vec<&str> =
            listed().map(|(name, _)| name).filter(|name| !fields.contains(*name)).collect();
        assert!(stale.is_empty(), "listed but not mutation fields of the schema: {}", stale.join(", "));
    }

    #[test]
    fn no_field_is_listed_twice() {
        let mut seen = BTreeSet::new();
        let twice: Vec<&str> = listed().map(|(name, _)| name).filter(|name| !seen.insert(*name)).collect();
        assert!(twice.is_empty(), "listed more than once: {}", twice.join(", "));
    }

    #[test]
    fn fields_fall_in_the_tier_their_effect_says_not_their_name() {
        use MutationTier::{Administration, Destructive, OrdinaryWrite};
        let cases = [
            ("alertsPolicyCreate", OrdinaryWrite, true),
            ("alertsNrqlConditionStaticUpdate", Destructive, true),
            ("syntheticsCreateScriptApiMonitor", Administration, true),
            ("syntheticsUpdateStepMonitor", Administration, true),
            ("aiIssuesAckIssue", OrdinaryWrite, true),
            ("aiIssuesCloseIncident", OrdinaryWrite, true),
            ("changeTrackingCreateDeployment", OrdinaryWrite, true),
            ("dashboardCreate", OrdinaryWrite, true),
            ("dashboardUndelete", OrdinaryWrite, true),
            ("taggingAddTagsToEntity", OrdinaryWrite, true),
            ("alertsPolicyDelete", Destructive, true),
            ("alertsMutingRuleCreate", Destructive, true),
            ("dataManagementCreateEventRetentionRule", Destructive, true),
            ("nrqlDropRulesCreate", Destructive, true),
            ("taggingReplaceTagsOnEntity", Destructive, true),
            ("syntheticsCreateOnceMonitorDowntime", Destructive, true),
            ("accountManagementCancelAccount", Administration, true),
            ("apiAccessCreateKeys", Administration, true),
            ("userManagementCreateUser", Administration, true),
            ("dashboardCreateLiveUrl", Administration, true),
            // Unknown, whatever the name suggests: treated as destructive.
            ("alertsPolicyCreateHarmless", Destructive, false),
            ("", Destructive, false),
            ("ALERTSPOLICYCREATE", Destructive, false),
        ];
        for (field, tier, listed) in cases {
            let classified = classify(field);
            assert_eq!(
                (classified.field, classified.tier, classified.listed),
                (field, tier, listed),
                "{field}"
            );
        }
        assert_eq!(classify("nothingKnown").reason, UNKNOWN_REASON);
        assert_eq!(classify("alertsMutingRuleCreate").reason, "a muting rule silences alerting");
    }
}
