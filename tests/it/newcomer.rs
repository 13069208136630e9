//! A newcomer's path: the binary starts with the default configuration on an empty database,
//! prints a demo flash-sale URL that answers, and the README's curl walk-through runs as
//! written.

use crate::helpers::{Api, ChildServer, TestDb, client};

/// The shell block that follows the `<!-- walkthrough -->` marker in README.md.
fn readme_walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = readme.split("<!-- walkthrough -->").nth(1).expect("README has a walkthrough marker");
    let body = after.split("```sh\n").nth(1).expect("a sh block follows the marker");
    body.split("\n```").next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_url_answers_and_the_readme_walkthrough_runs() {
    // The README's start command, with the default config file, in a fresh working directory
    // (only the port is changed, so tests can run side by side).
    let db = TestDb::new().await;
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/../config.toml"), db.dir().join("config.toml"))
        .unwrap();
    let mut env = vec![("FLASHSALE__LOG__LEVEL", "warn".to_owned())];
    if db.is_postgres() {
        env.push(("FLASHSALE__DATABASE__URL", db.url.clone()));
    }
    let server = ChildServer::start(db.dir(), &env);
    if !db.is_postgres() {
        assert!(db.dir().join("data/flashsale.db").exists(), "the embedded database lives under data/");
    }

    let demo_url = server.wait_for_line("flash sale: ").await.trim().to_owned();
    let demo = client().get(&demo_url).send().await.unwrap();
    assert_eq!(demo.status(), 200);
    let demo: serde_json::Value = demo.json().await.unwrap();
    assert_eq!(demo["state"], "live");
    assert!(demo["available"].as_i64().unwrap() > 0);

    let base = server.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &readme_walkthrough()])
            .env("BASE", base)
            .output()
            .expect("bash runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(r#""review_state":"approved""#), "{stdout}");
    assert!(stdout.contains("replayed: same order"), "{stdout}");
    assert!(stdout.contains(r#""code":"limit_exceeded""#), "{stdout}");
    assert!(stdout.contains(r#""available":48"#) && stdout.contains(r#""reserved":2"#), "{stdout}");
    assert!(stdout.contains(r#""code_url":"weixin://"#), "{stdout}");
    assert!(stdout.contains(r#""state":"paid""#), "{stdout}");
    // ¥19.80 at 0.2%: a 4-fen fee, ¥19.76 credited at once.
    assert!(stdout.contains(r#""available_fen":1976"#), "{stdout}");

    // The merchant from the walkthrough sees the sale the walkthrough made.
    let api = Api { base: server.base.clone(), client: client() };
    let sale_id = demo["id"].as_i64().unwrap() + 1;
    assert_eq!(api.counts(sale_id).await, (48, 0, 2, 50));
}
