"""Client helpers for HiveServer2 with LDAP authentication (``beeline_ldap.sh``)."""
