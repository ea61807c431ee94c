"""Compute: ``EmrCluster`` (``compute.cluster``) and the wide-matrix jobs' packaging (``compute.jobs``)."""

from emr_patterns.compute.jobs import WideMatrixJobs

__all__ = ["WideMatrixJobs"]
