// Runs Hive's own LDAP authenticator (hive-service 3.1.3) with the hive-site settings a test
// renders, for each "user<TAB>password" line on stdin; prints "OK user" or "DENIED user <reason>".
// Compiled at test time by tests/hive_ldap/test_hive_ldap_slapd.py (no committed jars).
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

import javax.security.sasl.AuthenticationException;

import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hive.service.auth.LdapAuthenticationProviderImpl;

public final class HiveLdapCheck {
  private HiveLdapCheck() {}

  public static void main(String[] args) throws Exception {
    Properties settings = new Properties();
    try (FileInputStream in = new FileInputStream(args[0])) {
      settings.load(in);
    }
    HiveConf conf = new HiveConf();
    for (String key : settings.stringPropertyNames()) {
      conf.set(key, settings.getProperty(key));
    }
    LdapAuthenticationProviderImpl provider = new LdapAuthenticationProviderImpl(conf);
    BufferedReader lines = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = lines.readLine()) != null) {
      String[] parts = line.split("\t", 2);
      try {
        provider.Authenticate(parts[0], parts[1]);
        System.out.println("OK " + parts[0]);
      } catch (AuthenticationException e) {
        System.out.println("DENIED " + parts[0] + " " + String.valueOf(e.getMessage()).replace('\n', ' '));
      }
      System.out.flush();
    }
  }
}
