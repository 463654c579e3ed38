//! The command line of the real binary: help texts, `secworks lookup` for files, cron jobs and
//! monitoring (exit codes, `--file`, standard input, `--json`), the administration commands'
//! refusal to create a database, and `secworks healthcheck` asking the address the server
//! listens on.

use std::process::{Output, Stdio};

use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::helpers::{ChildServer, TestDb, start_dns};

/// `secworks <args>` with none of the caller's settings, DNS only to `dns`, and `stdin` as its
/// standard input (standard error is a pipe, so no progress bar is drawn).
async fn secworks(dns: Option<&TestDnsServer>, args: &[&str], stdin: &str) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"));
    command.args(args);
    for (variable, _) in std::env::vars() {
        if variable.starts_with("SECWORKS_")
            || ["HOST", "PORT", "DATABASE_URL"].contains(&variable.as_str())
        {
            command.env_remove(variable);
        }
    }
    let server = dns.map_or_else(|| "127.0.0.1:9".to_owned(), |dns| dns.addr().to_string());
    command
        .env("SECWORKS_DNS_SERVER", server)
        .env("SECWORKS_DNS_TIMEOUT", "300ms")
        .env("SECWORKS_DNS_ATTEMPTS", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

#[tokio::test]
async fn top_level_help_is_short_and_serve_help_groups_its_options() {
    let help = secworks(None, &["--help"], "").await;
    assert_eq!(code(&help), 0);
    let text = stdout(&help);
    assert!(text.lines().count() <= 25, "too long:\n{text}");
    for command in [
        "serve",
        "lookup",
        "blocklists",
        "user",
        "token",
        "healthcheck",
        "serve --help",
    ] {
        assert!(text.contains(command), "no {command:?}:\n{text}");
    }
    assert!(!text.contains("SECWORKS_DNS_TIMEOUT"), "{text}");

    let serve = secworks(None, &["serve", "--help"], "").await;
    assert_eq!(code(&serve), 0);
    let text = stdout(&serve);
    let headings: Vec<&str> = text
        .lines()
        .filter(|line| line.ends_with(':') && !line.starts_with(' '))
        .collect();
    assert_eq!(
        headings,
        [
            "Options:",
            "Server:",
            "Database:",
            "DNS and blocklists:",
            "Lookups:",
            "Limits:",
            "Authentication:",
            "Logging and metrics:",
            "Webhooks:",
            "Secrets, read from the environment only:",
        ],
        "{text}"
    );
    for placeholder in ["<DURATION>", "<IP:PORT>", "<BYTES>", "<IP>", "<URL>", "<N>"] {
        assert!(text.contains(placeholder), "no {placeholder}:\n{text}");
    }
    // The variable shows once, as the environment variable, not again as the placeholder.
    assert!(!text.contains("<SECWORKS_"), "{text}");
    assert!(text.contains("--dns-timeout <DURATION>"), "{text}");
    assert!(text.contains("[env: SECWORKS_DNS_TIMEOUT="), "{text}");

    let lookup = secworks(None, &["lookup", "--help"], "").await;
    let text = stdout(&lookup);
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("--file <PATH>"), "{text}");
}

#[tokio::test]
async fn lookup_exit_codes_say_listed_not_listed_or_failed() {
    let dns = start_dns().await;
    dns.set("192.0.2.50".parse().unwrap(), TestAnswer::ServFail);

    let clean = secworks(Some(&dns), &["lookup", "127.0.0.1", "192.0.2.9"], "").await;
    assert_eq!(code(&clean), 0, "{}", stderr(&clean));
    assert_eq!(
        stdout(&clean),
        "127.0.0.1\tspamhaus-zen\tNo Response\n192.0.2.9\tspamhaus-zen\tNo Response\n"
    );

    let listed = secworks(Some(&dns), &["lookup", "127.0.0.1", "127.0.0.2"], "").await;
    assert_eq!(code(&listed), 1, "{}", stderr(&listed));
    assert_eq!(stdout(&listed).lines().count(), 2);

    // A failure wins over a listing: the check did not finish its job.
    let failed = secworks(Some(&dns), &["lookup", "127.0.0.2", "192.0.2.50"], "").await;
    assert_eq!(code(&failed), 2, "{}", stderr(&failed));
    let text = stdout(&failed);
    assert!(text.contains("192.0.2.50\tspamhaus-zen\terror: "), "{text}");
    assert!(
        text.starts_with("127.0.0.2\tspamhaus-zen\t127.0.0.2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_list_whose_test_points_fail_is_never_not_listed_and_says_what_to_do() {
    let dns = start_dns().await;
    // As Spamhaus answers a public resolver: NXDOMAIN for everything.
    dns.set("127.0.0.2".parse().unwrap(), TestAnswer::NxDomain);
    let output = secworks(Some(&dns), &["lookup", "--json", "192.0.2.1"], "").await;
    assert_eq!(code(&output), 2);
    let row: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(row["status"], "UNKNOWN", "{row}");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("answers not trusted"),
        "{row}"
    );
    let advice = stderr(&output);
    assert!(advice.contains("SECWORKS_DNS_SERVER"), "{advice}");
    assert!(advice.contains("SECWORKS_DQS_KEY"), "{advice}");
    assert!(advice.contains("public resolvers"), "{advice}");

    // The resolver is down: exit 2, and the advice is about the DNS server.
    let output = secworks(None, &["lookup", "192.0.2.1"], "").await;
    assert_eq!(code(&output), 2);
    assert!(!stdout(&output).contains("No Response"), "{output:?}");
    assert!(
        stderr(&output).contains("SECWORKS_DNS_SERVER"),
        "{output:?}"
    );
}

#[tokio::test]
async fn lookup_reads_a_file_or_standard_input_and_prints_json_lines() {
    let dns = start_dns().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    std::fs::write(
        &file,
        "# mail servers\n127.0.0.2\n\n   127.0.0.1   # the relay\r\n2001:db8::2\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();

    let output = secworks(Some(&dns), &["lookup", "--json", "--file", path], "").await;
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let rows: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let targets: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["127.0.0.2", "127.0.0.1", "2001:db8::2"]);
    let listed = &rows[0];
    assert_eq!(listed["blocklist"], "spamhaus-zen");
    assert_eq!(listed["status"], "LISTED");
    assert_eq!(
        listed["return_codes"],
        serde_json::json!(["127.0.0.2", "127.0.0.4", "127.0.0.10"])
    );
    assert_eq!(listed["listings"][0]["list"], "SBL", "{listed}");
    assert_eq!(listed["listings"][0]["return_code"], "127.0.0.2");
    assert!(listed["delist_url"].as_str().is_some(), "{listed}");
    assert!(listed["error"].is_null());
    assert_eq!(listed["evidence"]["rcode"], "NOERROR", "{listed}");
    let clean = &rows[1];
    assert_eq!(clean["status"], "NOT_LISTED");
    assert_eq!(clean["return_codes"], serde_json::json!([]));
    assert!(clean["delist_url"].is_null() && clean["error"].is_null());

    // The same lines from standard input, with targets from the arguments first.
    let text = std::fs::read_to_string(&file).unwrap();
    let output = secworks(Some(&dns), &["lookup", "192.0.2.7", "--file", "-"], &text).await;
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    let first: Vec<&str> = text
        .lines()
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        first,
        ["192.0.2.7", "127.0.0.2", "127.0.0.1", "2001:db8::2"]
    );

    // Nothing to look up: nothing is listed.
    let output = secworks(Some(&dns), &["lookup", "--file", "-"], "# none yet\n\n").await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
}

#[tokio::test]
async fn a_bad_line_is_named_with_its_file_and_number_and_nothing_is_looked_up() {
    let dns = start_dns().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    std::fs::write(
        &file,
        "127.0.0.2\n# fine\n192.0.2.300\n192.0.2.1 192.0.2.2\n127.0.0.1\n",
    )
    .unwrap();
    let before = dns.queries();
    let output = secworks(
        Some(&dns),
        &["lookup", "--file", file.to_str().unwrap()],
        "",
    )
    .await;
    assert_eq!(code(&output), 2);
    assert_eq!(stdout(&output), "");
    let error = stderr(&output);
    let shown = file.display().to_string();
    assert!(
        error.contains(&format!("{shown}:3: \"192.0.2.300\"")),
        "{error}"
    );
    assert!(error.contains(&format!("{shown}:4: ")), "{error}");
    assert!(error.contains("one target on each line"), "{error}");
    assert!(error.contains("nothing was looked up"), "{error}");
    assert_eq!(dns.queries(), before, "queries were sent");

    let output = secworks(Some(&dns), &["lookup", "--file", "-"], "example..com\n").await;
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("standard input:1: \"example..com\""),
        "{output:?}"
    );

    let missing = dir.path().join("missing.txt");
    let output = secworks(
        Some(&dns),
        &["lookup", "--file", missing.to_str().unwrap()],
        "",
    )
    .await;
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains(&missing.display().to_string()),
        "{output:?}"
    );
    assert_eq!(dns.queries(), before, "queries were sent");
}

/// `user`, `token`: a missing SQLite file is an error naming its absolute path, and stays
/// missing; an existing database is named before the command acts on it.
#[tokio::test]
async fn administration_commands_name_their_database_and_never_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str], folder: &std::path::Path, url: &str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"));
        command
            .args(args)
            .current_dir(folder)
            .env("DATABASE_URL", url)
            .stdin(Stdio::null());
        async move { command.output().await.unwrap() }
    };
    for args in [&["user", "list"][..], &["token", "revoke-all", "alice"]] {
        let output = run(args, elsewhere.path(), "sqlite://app.db").await;
        assert!(!output.status.success(), "{args:?} succeeded");
        let error = stderr(&output);
        let expected = std::fs::canonicalize(elsewhere.path())
            .unwrap()
            .join("app.db");
        let expected_raw = elsewhere.path().join("app.db");
        assert!(
            error.contains(&expected.display().to_string())
                || error.contains(&expected_raw.display().to_string()),
            "{args:?}: {error}"
        );
        assert!(error.contains("DATABASE_URL"), "{error}");
        assert!(
            !expected_raw.exists(),
            "{args:?} created a database in the wrong folder"
        );
    }

    // The server's database, named relative to its folder, is found and shown absolute.
    let db = TestDb::new().await;
    secworks::store::connect(db.url()).await.unwrap();
    let (folder, url) = if db.url().starts_with("sqlite:") {
        (db.dir().to_path_buf(), "sqlite://secworks.db".to_owned())
    } else {
        (dir.path().to_path_buf(), db.url().to_owned())
    };
    let output = run(&["user", "list"], &folder, &url).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let shown = secworks::store::shown_url(db.url());
    assert!(
        stderr(&output).contains(&format!("database: {shown}")),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).starts_with("USER\t"), "{}", stdout(&output));
}

#[tokio::test]
async fn healthcheck_asks_the_address_the_server_listens_on() {
    let dns = start_dns().await;
    let db = TestDb::new().await;
    let server = ChildServer::start(&db, dns.addr(), &[("HOST", "127.0.0.2")]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let check = |host: &str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"));
        command
            .arg("healthcheck")
            .env("HOST", host)
            .env("PORT", &port);
        async move { command.output().await.unwrap() }
    };
    // Ready once its first test-point check is done.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let output = check("127.0.0.2").await;
        if output.status.success() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready: {}",
            stderr(&output)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Nothing listens on 127.0.0.1 at that port: asking there fails, and says where it asked.
    let output = check("127.0.0.1").await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&output)
    );
    server.stop().await;

    // A server on every IPv4 address is asked on 127.0.0.1.
    let server = ChildServer::start(&db, dns.addr(), &[("HOST", "0.0.0.0")]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"))
            .arg("healthcheck")
            .env("HOST", "0.0.0.0")
            .env("PORT", &port)
            .output()
            .await
            .unwrap();
        if output.status.success() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready on 127.0.0.1: {}",
            stderr(&output)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// A resolver that the list starts refusing during the run answers NXDOMAIN from then on: the
/// "not listed" answers cannot be trusted, and the exit code says so.
#[tokio::test]
async fn test_points_that_fail_by_the_end_of_the_run_make_it_fail() {
    let dns = start_dns().await;
    // The one lookup takes a while, so the test can break the list while it is in flight.
    dns.set(
        "192.0.2.5".parse().unwrap(),
        TestAnswer::Slow(
            std::time::Duration::from_secs(2),
            Box::new(TestAnswer::NxDomain),
        ),
    );
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"));
    command
        .args(["lookup", "192.0.2.5"])
        .env("SECWORKS_DNS_SERVER", dns.addr().to_string())
        .env("SECWORKS_DNS_TIMEOUT", "10s")
        .env("SECWORKS_DNS_ATTEMPTS", "1")
        .env_remove("SECWORKS_DQS_KEY")
        .env_remove("SECWORKS_BLOCKLISTS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !dns
        .last_query_name()
        .is_some_and(|name| name.starts_with("5.2.0.192."))
    {
        assert!(tokio::time::Instant::now() < deadline, "never asked");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    dns.set("127.0.0.2".parse().unwrap(), TestAnswer::NxDomain);
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert_eq!(stdout(&output), "192.0.2.5\tspamhaus-zen\tNo Response\n");
    let error = stderr(&output);
    assert!(error.contains("at the end of the run"), "{error}");
    assert!(error.contains("SECWORKS_DNS_SERVER"), "{error}");
}
