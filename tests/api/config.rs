//! Starting the real binary: `serve --help`, and bad settings that must stop the start with a
//! message naming the variable.

use std::process::{Command, Output};

fn secworks(envs: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secworks"));
    cmd.args(args).current_dir(dir.path());
    for (variable, _) in std::env::vars() {
        if variable.starts_with("SECWORKS_")
            || ["HOST", "PORT", "DATABASE_URL"].contains(&variable.as_str())
        {
            cmd.env_remove(variable);
        }
    }
    cmd.env("PORT", "0")
        // Never the system resolver: tests send DNS only to loopback.
        .env("SECWORKS_DNS_SERVER", "127.0.0.1:9");
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let output = cmd.output().unwrap();
    drop(dir);
    output
}

#[test]
fn serve_help_documents_every_setting() {
    let output = secworks(&[], &["serve", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "HOST",
        "PORT",
        "DATABASE_URL",
        "SECWORKS_TOKEN_KEY",
        "SECWORKS_TOKEN_TTL",
        "SECWORKS_ADMIN_PASSWORD",
        "SECWORKS_DQS_KEY",
        "SECWORKS_DNSBL_ZONE",
        "SECWORKS_DNS_SERVER",
        "SECWORKS_DNS_TIMEOUT",
        "SECWORKS_DNS_ATTEMPTS",
        "SECWORKS_LOOKUP_CONCURRENCY",
        "SECWORKS_LOOKUP_QPS",
        "SECWORKS_LOOKUP_LEASE",
        "SECWORKS_LOOKUP_RETRY_BASE",
        "SECWORKS_LOOKUP_MAX_ATTEMPTS",
        "SECWORKS_HEALTH_INTERVAL",
        "SECWORKS_RATE_LIMIT_PAUSE",
        "SECWORKS_GRAPHQL_MAX_DEPTH",
        "SECWORKS_GRAPHQL_MAX_COMPLEXITY",
        "SECWORKS_MAX_BODY_BYTES",
        "SECWORKS_MAX_ENQUEUE",
        "SECWORKS_MAX_WATCH_TARGETS",
        "SECWORKS_GRAPHQL_MAX_ALIASES",
        "SECWORKS_REQUEST_TIMEOUT",
        "SECWORKS_LOGIN_FAILURES_PER_USER",
        "SECWORKS_LOGIN_FAILURES_PER_ADDRESS",
        "SECWORKS_TRUST_FORWARDED_FOR",
        "SECWORKS_SHUTDOWN_GRACE",
        "SECWORKS_LOG_FORMAT",
    ] {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}:\n{help}"
        );
    }
}

#[test]
fn a_bad_value_stops_the_start_and_names_the_variable() {
    let secret_key = "c2hvcnQga2V5IHRoYXQgaXMgbm90IDMyIGJ5dGVz";
    let cases = [
        ("PORT", "not-a-port", "PORT"),
        ("HOST", "localhost:80", "HOST"),
        ("SECWORKS_TOKEN_TTL", "soon", "SECWORKS_TOKEN_TTL"),
        ("SECWORKS_TOKEN_KEY", secret_key, "SECWORKS_TOKEN_KEY"),
        ("SECWORKS_ADMIN_PASSWORD", "", "SECWORKS_ADMIN_PASSWORD"),
        (
            "DATABASE_URL",
            "mysql://user:dbpassword@nowhere/db",
            "DATABASE_URL",
        ),
        ("SECWORKS_DNSBL_ZONE", "bad..zone", "SECWORKS_DNSBL_ZONE"),
        ("SECWORKS_DQS_KEY", "not a key!", "SECWORKS_DQS_KEY"),
        ("SECWORKS_DNS_SERVER", "127.0.0.1", "SECWORKS_DNS_SERVER"),
        ("SECWORKS_DNS_TIMEOUT", "0", "SECWORKS_DNS_TIMEOUT"),
        ("SECWORKS_DNS_ATTEMPTS", "0", "SECWORKS_DNS_ATTEMPTS"),
        (
            "SECWORKS_LOOKUP_CONCURRENCY",
            "0",
            "SECWORKS_LOOKUP_CONCURRENCY",
        ),
        ("SECWORKS_LOOKUP_QPS", "0", "SECWORKS_LOOKUP_QPS"),
        ("SECWORKS_LOOKUP_LEASE", "1s", "SECWORKS_LOOKUP_LEASE"),
        (
            "SECWORKS_LOOKUP_RETRY_BASE",
            "never",
            "SECWORKS_LOOKUP_RETRY_BASE",
        ),
        (
            "SECWORKS_LOOKUP_MAX_ATTEMPTS",
            "0",
            "SECWORKS_LOOKUP_MAX_ATTEMPTS",
        ),
        ("SECWORKS_HEALTH_INTERVAL", "-1", "SECWORKS_HEALTH_INTERVAL"),
        (
            "SECWORKS_RATE_LIMIT_PAUSE",
            "x",
            "SECWORKS_RATE_LIMIT_PAUSE",
        ),
        (
            "SECWORKS_GRAPHQL_MAX_ALIASES",
            "0",
            "SECWORKS_GRAPHQL_MAX_ALIASES",
        ),
        ("SECWORKS_REQUEST_TIMEOUT", "0", "SECWORKS_REQUEST_TIMEOUT"),
        (
            "SECWORKS_LOGIN_FAILURES_PER_USER",
            "5",
            "SECWORKS_LOGIN_FAILURES_PER_USER",
        ),
        (
            "SECWORKS_LOGIN_FAILURES_PER_ADDRESS",
            "0/1m",
            "SECWORKS_LOGIN_FAILURES_PER_ADDRESS",
        ),
        (
            "SECWORKS_TRUST_FORWARDED_FOR",
            "maybe",
            "SECWORKS_TRUST_FORWARDED_FOR",
        ),
        ("SECWORKS_SHUTDOWN_GRACE", "x", "SECWORKS_SHUTDOWN_GRACE"),
        ("SECWORKS_LOG_FORMAT", "xml", "SECWORKS_LOG_FORMAT"),
        // A database that cannot be opened stops the start at once, naming the setting.
        (
            "DATABASE_URL",
            "sqlite:///nonexistent-secworks-dir/sub/app.db",
            "DATABASE_URL",
        ),
    ];
    for (variable, value, named) in cases {
        let output = secworks(&[(variable, value)], &[]);
        assert!(!output.status.success(), "{variable}={value} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{variable}={value}: {stderr}");
        assert!(!stderr.contains(secret_key), "the key leaked: {stderr}");
        assert!(
            !stderr.contains("dbpassword"),
            "the database password leaked: {stderr}"
        );
        assert!(
            !stderr.contains("not a key!"),
            "the DQS key leaked: {stderr}"
        );
    }
}
