#!/usr/bin/env python3
"""CDK app: every prebuilt stack of cdk-emr-patterns, checked by cdk-nag at synth."""

from emr_patterns.app_factory import build_app

build_app().synth()
