"""Pure-Python EMR cluster specs: release gates, instance catalog, fleets, configurations, renderers.

This layer imports no CDK. A :class:`ClusterSpec` validates itself on construction (one
:class:`~emr_patterns.errors.EmrPatternsValidationError` listing every problem) and renders both the
``AWS::EMR::Cluster`` properties and the ``RunJobFlow`` request from the same data::

    from emr_patterns.spec import ClusterSpec, InstanceFleetSpec, PlatformBindings, vcpu_weighted

    spec = ClusterSpec(
        name="spark",
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m7g.2xlarge", "m6g.2xlarge"], on_demand_units=2),
        task_fleets=(InstanceFleetSpec.task(vcpu_weighted("m7g.2xlarge", "m6g.2xlarge"), spot_units=64),),
        idle_timeout_seconds=3600,
    )
    props = spec.to_cfn_cluster_props(bindings)          # AWS::EMR::Cluster Properties
    request = spec.to_run_job_flow_request(bindings)     # RunJobFlow / Step Functions createCluster
"""

from emr_patterns.spec.catalog import (
    Architecture,
    InstanceCategory,
    InstanceType,
    architecture_of,
    catalog,
    diversified_instance_types,
    family_of,
    instance_type,
    instance_type_problems,
    is_graviton,
    is_known_instance_type,
    known_instance_type_names,
    release_supports_type,
)
from emr_patterns.spec.cluster import (
    MANAGED_POLICY_TAG,
    BootstrapAction,
    ClusterSpec,
    EmrPatternsWarning,
    ManagedScalingSpec,
    PlatformBindings,
    ScalingUnit,
    ShellAccess,
)
from emr_patterns.spec.configurations import (
    Classification,
    Configuration,
    configuration_conflicts,
    env_exports,
    merge_configurations,
)
from emr_patterns.spec.fleets import (
    MAX_TYPES_PER_FLEET,
    MAX_TYPES_PER_FLEET_WITHOUT_STRATEGY,
    EbsVolume,
    InstanceFleetSpec,
    InstanceGroupSpec,
    InstanceTypeSpec,
    MarketType,
    NodeRole,
    OnDemandAllocationStrategy,
    OnDemandSpec,
    SpotAllocationStrategy,
    SpotSpec,
    SpotTimeoutAction,
    vcpu_weighted,
)
from emr_patterns.spec.presets import (
    JdbcDriver,
    external_hive_metastore,
    glue_data_catalog,
    hbase_on_s3,
    hive_acid,
    hiveserver2_ldap,
)
from emr_patterns.spec.release import (
    DEFAULT_RELEASE,
    FEATURE_RELEASES,
    Feature,
    ReleaseLabel,
    UnknownReleaseWarning,
    application_problems,
    feature_problems,
    known_applications,
    known_release_labels,
    latest_known_release,
    nearest_release_labels,
)
from emr_patterns.spec.rules import cluster_problems, cluster_warnings
from emr_patterns.spec.secrets import (
    SECRET_ANNOTATION,
    is_secret_reference,
    looks_secret,
    secret_property,
    secret_value_problems,
)

__all__ = [
    "DEFAULT_RELEASE",
    "FEATURE_RELEASES",
    "MANAGED_POLICY_TAG",
    "MAX_TYPES_PER_FLEET",
    "MAX_TYPES_PER_FLEET_WITHOUT_STRATEGY",
    "SECRET_ANNOTATION",
    "Architecture",
    "BootstrapAction",
    "Classification",
    "ClusterSpec",
    "Configuration",
    "EbsVolume",
    "EmrPatternsWarning",
    "Feature",
    "InstanceCategory",
    "InstanceFleetSpec",
    "InstanceGroupSpec",
    "InstanceType",
    "InstanceTypeSpec",
    "JdbcDriver",
    "ManagedScalingSpec",
    "MarketType",
    "NodeRole",
    "OnDemandAllocationStrategy",
    "OnDemandSpec",
    "PlatformBindings",
    "ReleaseLabel",
    "ScalingUnit",
    "ShellAccess",
    "SpotAllocationStrategy",
    "SpotSpec",
    "SpotTimeoutAction",
    "UnknownReleaseWarning",
    "application_problems",
    "architecture_of",
    "catalog",
    "cluster_problems",
    "cluster_warnings",
    "configuration_conflicts",
    "diversified_instance_types",
    "env_exports",
    "external_hive_metastore",
    "family_of",
    "feature_problems",
    "glue_data_catalog",
    "hbase_on_s3",
    "hive_acid",
    "hiveserver2_ldap",
    "instance_type",
    "instance_type_problems",
    "is_graviton",
    "is_known_instance_type",
    "is_secret_reference",
    "known_applications",
    "known_instance_type_names",
    "known_release_labels",
    "latest_known_release",
    "looks_secret",
    "merge_configurations",
    "nearest_release_labels",
    "release_supports_type",
    "secret_property",
    "secret_value_problems",
    "vcpu_weighted",
]
