//! The Docker image's contract, checked without a Docker engine: the runtime stage of the
//! Dockerfile is read, and its entrypoint, environment and health check are run here as the
//! container would run them.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The instructions of the Dockerfile's last stage, by keyword (upper case), in order.
fn runtime_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let stage = joined.rsplit_once("\nFROM ").unwrap().1;
    stage
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (keyword, rest) = line.split_once(' ').unwrap();
            (keyword.to_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

fn instruction(stage: &[(String, String)], keyword: &str) -> String {
    stage
        .iter()
        .find(|(k, _)| k == keyword)
        .unwrap_or_else(|| panic!("no {keyword} in the runtime stage"))
        .1
        .clone()
}

/// The binary in place of the image's path to it.
fn local(argv: &[String]) -> Command {
    assert_eq!(argv[0], "/usr/local/bin/secworks");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secworks"));
    cmd.args(&argv[1..]);
    for (variable, _) in std::env::vars() {
        if variable.starts_with("SECWORKS_")
            || ["HOST", "PORT", "DATABASE_URL", "RUST_LOG"].contains(&variable.as_str())
        {
            cmd.env_remove(variable);
        }
    }
    cmd
}

#[tokio::test]
async fn the_image_runs_non_root_honours_port_keeps_its_data_on_the_volume_and_checks_health() {
    let stage = runtime_stage();
    let user = instruction(&stage, "USER");
    assert!(
        user.parse::<u32>().is_ok_and(|uid| uid != 0),
        "USER must be a numeric non-root id: {user}"
    );
    let env: HashMap<String, String> = instruction(&stage, "ENV")
        .split_whitespace()
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    assert_eq!(env["HOST"], "0.0.0.0");
    assert_eq!(instruction(&stage, "EXPOSE"), env["PORT"]);
    let volume: Vec<String> = serde_json::from_str(&instruction(&stage, "VOLUME")).unwrap();
    let database = env["DATABASE_URL"]
        .strip_prefix("sqlite://")
        .unwrap()
        .to_owned();
    assert!(
        database.starts_with(&format!("{}/", volume[0])),
        "the database is not on the volume"
    );
    let entrypoint: Vec<String> = serde_json::from_str(&instruction(&stage, "ENTRYPOINT")).unwrap();
    let healthcheck = instruction(&stage, "HEALTHCHECK");
    let health_cmd: Vec<String> =
        serde_json::from_str(healthcheck.split_once("CMD ").unwrap().1).unwrap();

    // As `docker run --network host -e PORT=<port> -v <dir>:/data`.
    let volume_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut container_env = env.clone();
    container_env.insert("PORT".into(), port.clone());
    container_env.insert(
        "DATABASE_URL".into(),
        env["DATABASE_URL"].replace(&volume[0], volume_dir.path().to_str().unwrap()),
    );
    let with_env = |mut cmd: Command| {
        cmd.envs(&container_env)
            // Tests send DNS only to loopback.
            .env("SECWORKS_DNS_SERVER", "127.0.0.1:9");
        cmd
    };
    let mut server = with_env(local(&entrypoint))
        .current_dir(volume_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let healthy = || {
        with_env(local(&health_cmd))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !healthy() {
        assert!(
            std::time::Instant::now() < deadline,
            "never became healthy on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let file = volume_dir
        .path()
        .join(std::path::Path::new(&database).file_name().unwrap());
    assert!(file.exists(), "no database file on the volume");

    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
    assert!(
        !healthy(),
        "the health check passed with the server stopped"
    );
}
