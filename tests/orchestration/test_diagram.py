"""asl_to_mermaid: every state and every edge of the definition is in the diagram."""

from __future__ import annotations

import re

import pytest

from emr_patterns.orchestration.diagram import asl_to_mermaid

ASL = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 3, "Next": "Bad"}],
            "Default": "Loop",
        },
        "Loop": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "Work",
                "States": {
                    "Work": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
                        "End": True,
                    }
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Bad"}],
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Read",
                    "States": {
                        "Read": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                            "End": True,
                        }
                    },
                },
                {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 5, "End": True}}},
            ],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Bad": {"Type": "Fail", "Error": "Boom"},
    },
}


def test_states_edges_and_subgraphs_are_drawn():
    diagram = asl_to_mermaid(ASL)
    assert diagram.startswith("flowchart TD\n")
    assert "__start --> Check" in diagram
    assert 'Check -->|"n #gt;= 3"| Bad' in diagram
    assert 'Check -->|"otherwise"| Loop' in diagram
    assert 'Loop -.->|"States.ALL"| Bad' in diagram
    assert "Loop --> Both" in diagram and "Both --> Done" in diagram
    assert 'subgraph Loop["Loop (Map)"]' in diagram and 'subgraph Both["Both (Parallel)"]' in diagram
    assert 'Loop_0_Work["Work<br/><small>addStep.sync</small>"]' in diagram
    assert "Both_0_Read" in diagram and "s3:getObject" in diagram and "Both_1_Pause" in diagram
    assert 'Bad(["Bad<br/><small>fail Boom</small>"])' in diagram
    # Every node an edge names is declared.
    declared = set(re.findall(r"^\s*(?:subgraph )?([A-Za-z0-9_]+)[\[\{\(]", diagram, re.M))
    for source, target in re.findall(r"^\s*(\w+) -[.-]*>(?:\|[^|]*\|)? (\w+)$", diagram, re.M):
        assert source in declared and target in declared


def test_bad_direction_is_refused():
    with pytest.raises(ValueError, match="direction='XY'"):
        asl_to_mermaid(ASL, direction="XY")
