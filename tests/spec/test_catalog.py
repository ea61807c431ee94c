"""Instance catalog data and the diversified type picker."""

from __future__ import annotations

import gzip
import json
from importlib.util import find_spec
from pathlib import Path

import pytest

from emr_patterns.spec import (
    Architecture,
    ReleaseLabel,
    architecture_of,
    catalog,
    diversified_instance_types,
    family_of,
    instance_type,
    is_graviton,
    release_supports_type,
)
from emr_patterns.spec.catalog import (
    instance_type_problems,
    is_known_instance_type,
    known_instance_type_names,
)

GRAVITON_FAMILIES = {"m6g", "m7g", "m8g", "c6g", "c7g", "c8g", "r6g", "r7g", "r8g"}
X86_FAMILIES = {"m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "r7i", "m6a"}


def test_catalog_covers_the_families_the_issue_names() -> None:
    families = {e.family for e in catalog().values()}
    assert families >= GRAVITON_FAMILIES | X86_FAMILIES
    for entry in catalog().values():
        assert entry.vcpu > 0 and entry.memory_gib > 0
        expected = Architecture.ARM64 if "g" in entry.family[2:] else Architecture.X86_64
        assert entry.architecture is expected, entry.name
        assert entry.generation == int(entry.family[1])
        if entry.architecture is Architecture.ARM64:
            assert entry.min_release and entry.processor.startswith("graviton")


def test_known_sizes() -> None:
    m7g = instance_type("m7g.2xlarge")
    assert m7g is not None and (m7g.vcpu, m7g.memory_gib, m7g.processor) == (8, 32.0, "graviton3")
    r5 = instance_type("r5.4xlarge")
    assert r5 is not None and (r5.vcpu, r5.memory_gib, r5.architecture) == (16, 128.0, Architecture.X86_64)
    assert instance_type("m7g.tiny") is None


def test_architecture_is_inferred_for_types_outside_the_catalog() -> None:
    assert architecture_of("x2gd.xlarge") is Architecture.ARM64
    assert architecture_of("im4gn.large") is Architecture.ARM64
    assert architecture_of("g4dn.xlarge") is Architecture.X86_64
    assert architecture_of("z1d.2xlarge") is Architecture.X86_64
    assert architecture_of("not-a-type") is None
    assert is_graviton("c8g.4xlarge") and not is_graviton("c7i.4xlarge")
    assert family_of("r6gd.4xlarge") == "r6gd" and family_of("nope") is None


def test_release_support_of_graviton_families() -> None:
    assert not release_supports_type(ReleaseLabel.parse("emr-6.0.0"), "m6g.xlarge")
    assert release_supports_type(ReleaseLabel.parse("emr-6.1.0"), "m6g.xlarge")
    assert not release_supports_type(ReleaseLabel.parse("emr-6.9.0"), "m7g.xlarge")
    assert release_supports_type(ReleaseLabel.parse("emr-6.10.0"), "m7g.xlarge")
    assert release_supports_type(ReleaseLabel.parse("emr-5.31.0"), "r6g.xlarge")
    assert not release_supports_type(ReleaseLabel.parse("emr-5.30.1"), "r6g.xlarge")
    assert not release_supports_type(ReleaseLabel.parse("emr-4.9.6"), "r6g.xlarge")
    assert release_supports_type(ReleaseLabel.parse("emr-5.20.0"), "m5.xlarge")
    # outside the catalog: arm64 needs the Graviton2 release, x86 is assumed fine
    assert not release_supports_type(ReleaseLabel.parse("emr-6.0.0"), "x2gd.xlarge")
    assert release_supports_type(ReleaseLabel.parse("emr-6.0.0"), "z1d.xlarge")


@pytest.mark.parametrize("arch", [Architecture.ARM64, Architecture.X86_64])
def test_diversified_picks_one_architecture_and_spreads_families(arch: Architecture) -> None:
    picked = diversified_instance_types(
        min_vcpu=4, max_vcpu=16, memory_per_vcpu=8, architecture=arch, count=12
    )
    assert len(picked) == 12 == len(set(picked))
    entries = [instance_type(n) for n in picked]
    assert all(e is not None and e.architecture is arch for e in entries)
    assert all(e is not None and e.memory_per_vcpu == 8 and 4 <= e.vcpu <= 16 for e in entries)
    assert len({e.family for e in entries[:4] if e}) == 4, "the first picks come from different families"


def test_diversified_respects_release_and_generation() -> None:
    picked = diversified_instance_types(min_vcpu=4, memory_per_vcpu=4, release="emr-6.5.0", count=30)
    assert picked and all(n.split(".")[0] in {"m6g", "m6gd"} for n in picked)
    newest = diversified_instance_types(min_vcpu=4, min_generation=8, local_storage=False)
    assert newest and all(n[1] == "8" and "d" not in n.split(".")[0][2:] for n in newest)


def test_diversified_bad_input(raises_problem) -> None:
    raises_problem(
        lambda: diversified_instance_types(min_vcpu=4, count=31), prop="count", value=31, says="1-30"
    )
    raises_problem(lambda: diversified_instance_types(min_vcpu=0), prop="min_vcpu", value=0)
    raises_problem(lambda: diversified_instance_types(min_vcpu=8, max_vcpu=4), prop="max_vcpu", value=4)
    raises_problem(
        lambda: diversified_instance_types(min_vcpu=4, memory_per_vcpu=64),
        prop="min_vcpu/max_vcpu",
        says="no arm64",
    )


def _moto_resources() -> Path | None:
    spec = find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "emr" / "resources"
    return path if (path / "instance_types.json.gz").exists() else None


def test_catalog_agrees_with_emr_list_supported_instance_types() -> None:
    """Cross-check the shipped data against moto's copy of EMR's ListSupportedInstanceTypes."""
    resources = _moto_resources()
    if resources is None:
        pytest.skip("moto's EMR instance data is not installed")
    emr = json.loads(gzip.decompress((resources / "instance_types.json.gz").read_bytes()))
    supported = set(
        json.loads(gzip.decompress((resources / "instance-types-emr-7.13.0.json.gz").read_bytes()))
    )
    for name, entry in catalog().items():
        assert name in supported, f"{name} is not supported by emr-7.13.0"
        assert emr[name]["VCPU"] == entry.vcpu, name
        assert (emr[name]["Architecture"] == "AARCH64") == (entry.architecture is Architecture.ARM64), name
        # EMR reports usable memory, a few percent under the EC2 nominal value the catalog keeps
        assert 0.9 * entry.memory_gib <= emr[name]["MemoryGB"] <= entry.memory_gib + 0.01, name


def test_catalog_types_pass_cfn_lints_instance_type_list() -> None:
    import cfnlint

    enum_file = (
        Path(cfnlint.__file__).parent
        / "data/schemas/extensions/aws_emr_cluster/instancetypeconfig_instancetype_enum.json"
    )
    if not enum_file.exists():
        pytest.skip("this cfn-lint has no EMR instance type list")
    allowed = set(json.loads(enum_file.read_text())["us-east-1"]["enum"])
    assert set(catalog()) <= allowed


def test_known_names_cover_the_sized_catalog_and_no_burstable_type() -> None:
    names = known_instance_type_names()
    assert set(catalog()) <= names
    assert not [n for n in names if n.startswith(("t1.", "t2.", "t3.", "t3a.", "t4g."))]
    assert is_known_instance_type("i4i.xlarge") and not is_known_instance_type("r7g.2xlarg")


@pytest.mark.skipif(find_spec("cfnlint") is None, reason="cfn-lint is not installed")
def test_every_known_name_is_one_cfn_lint_accepts_for_emr() -> None:
    import cfnlint

    enum_file = (
        Path(cfnlint.__file__).parent
        / "data/schemas/extensions/aws_emr_cluster/instancetypeconfig_instancetype_enum.json"
    )
    regions = json.loads(enum_file.read_text(encoding="utf-8"))
    accepted = {t for region, body in regions.items() if region != "description" for t in body["enum"]}
    assert known_instance_type_names() <= accepted


def test_instance_type_problems_is_pure_and_skips_tokens() -> None:
    assert instance_type_problems("p", "m7g.xlarge") == []
    assert instance_type_problems("p", "${Token[TOKEN.12]}") == []
    assert instance_type_problems("p", "m9g.xlarge", allow_unknown=("m9g.xlarge",)) == []
    assert instance_type_problems("p", "t3.large", allow_unknown=("t3.large",))
