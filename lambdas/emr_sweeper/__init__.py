"""Lambda handler: terminate EMR clusters left behind by a stopped Step Functions execution."""
