//! End to end against a real json-server 0.17 (a third-party application nobody on the team
//! wrote), behind the shipped `mappings/json-server/mapping.toml`: Okta's user and group flows
//! over SCIM, checking each SCIM answer and then json-server's own db.json, which it rewrites on
//! every change.
//!
//! json-server is installed on first use by `.ci/install-json-server.sh` into
//! `<target>/tmp/json-server` (Node.js and npm must be there, or installable with apt-get). When
//! it cannot be installed the test fails, saying how to install it; set
//! `SCIM_SIDECAR_SKIP_JSON_SERVER=1` to skip it instead.

use crate::support::{Answer, TOKEN, enc, fetch, okta_user, patch_op, temp_dir};
use http::Method;
use scim_sidecar::config::{Config, token_digest};
use scim_sidecar::runtime::{self, Running};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SKIP_VAR: &str = "SCIM_SIDECAR_SKIP_JSON_SERVER";
/// Users added to the seed so that listing spans two of json-server's 100-record pages.
const BULK_USERS: u64 = 120;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the install script; the path of json-server's entry script, or why it failed.
fn install() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("json-server");
    let out = Command::new("bash")
        .arg(repo().join(".ci/install-json-server.sh"))
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(stderr.into_owned());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let entry = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    if !entry.is_file() {
        return Err(format!(
            "the script named no entry script: {stdout}{stderr}"
        ));
    }
    Ok(entry)
}

/// A running json-server, killed on drop.
struct JsonServer {
    child: Child,
    base_url: String,
    db: PathBuf,
    log: PathBuf,
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl JsonServer {
    /// Starts json-server on a copy of `db` in `dir`, on a free loopback port, and waits until it
    /// answers (bounded). A port taken between choosing and binding it is retried.
    async fn start(entry: &Path, dir: &Path, db: &Value) -> JsonServer {
        let db_file = dir.join("db.json");
        std::fs::write(&db_file, serde_json::to_vec_pretty(db).unwrap()).unwrap();
        let mut last = String::new();
        for attempt in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let log = dir.join(format!("json-server-{attempt}.log"));
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new("node")
                .arg(entry)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .arg(&db_file)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start node: {e}"));
            let mut server = JsonServer {
                child,
                base_url: format!("http://127.0.0.1:{port}"),
                db: db_file.clone(),
                log,
            };
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("json-server did not start: {last}");
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = self.base_url.trim_start_matches("http://").to_string();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}: {}", self.log_text()));
            }
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                let a = fetch(Method::GET, &format!("{}/users", self.base_url), &[], None).await;
                if a.status == 200 && a.body.is_array() {
                    return Ok(());
                }
                return Err(format!(
                    "not json-server on {addr}: {} {}",
                    a.status, a.body
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("no answer within 30s: {}", self.log_text()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// json-server's database file once it has caught up: json-server answers before its
    /// asynchronous write lands, so this waits (bounded) until the file holds what json-server
    /// holds in memory (its `GET /db`), then returns the file's content.
    async fn db(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let memory = fetch(Method::GET, &format!("{}/db", self.base_url), &[], None).await;
            let file = std::fs::read(&self.db)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            match file {
                Some(file) if file == memory.body => return file,
                _ if Instant::now() > deadline => {
                    panic!(
                        "db.json never caught up with json-server: {}",
                        self.log_text()
                    )
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    async fn user(&self, id: u64) -> Option<Value> {
        find(&self.db().await["users"], id)
    }

    async fn group(&self, id: u64) -> Option<Value> {
        find(&self.db().await["groups"], id)
    }

    /// Waits (bounded) until json-server's request log has a line containing `part`: it logs
    /// each request as its answer finishes.
    async fn logged(&self, part: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.log_text().contains(part) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn find(list: &Value, id: u64) -> Option<Value> {
    list.as_array()?
        .iter()
        .find(|r| r["id"].as_u64() == Some(id))
        .cloned()
}

/// The sidecar, in-process, serving the shipped json-server mapping in front of `app_url`.
struct Sidecar {
    running: Option<Running>,
    base: String,
}

impl Sidecar {
    async fn start(app_url: &str) -> Sidecar {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let vars: Vec<(String, String)> = vec![
            (
                "SCIM_SIDECAR__SERVER__LISTEN".into(),
                listener.local_addr().unwrap().to_string(),
            ),
            (
                "SCIM_SIDECAR__MAPPING__FILE".into(),
                repo()
                    .join("mappings/json-server/mapping.toml")
                    .display()
                    .to_string(),
            ),
            ("SCIM_SIDECAR__APP__BASE_URL".into(), app_url.into()),
            (
                "SCIM_SIDECAR__AUTH__TOKEN_SHA256".into(),
                hex::encode(token_digest(TOKEN)),
            ),
        ];
        let config = Config::load(None, vars).expect("config");
        let mapping = runtime::load_mapping(&config).unwrap_or_else(|e| panic!("mapping: {e}"));
        let state = runtime::build_state(&config, mapping).expect("state");
        let running = runtime::spawn(listener, state, std::future::pending()).expect("serves");
        let base = format!("http://{}/scim/v2", running.addr);
        Sidecar {
            running: Some(running),
            base,
        }
    }

    async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let auth = format!("Bearer {TOKEN}");
        let headers = [
            ("authorization", auth.as_str()),
            ("accept", "application/scim+json"),
            ("content-type", "application/scim+json; charset=utf-8"),
            ("user-agent", "Okta SCIM Client 1.0.0"),
        ];
        fetch(method, &format!("{}{path}", self.base), &headers, body).await
    }
    async fn get(&self, path: &str) -> Answer {
        self.scim(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Answer {
        self.scim(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Answer {
        self.scim(Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, ops: Value) -> Answer {
        self.scim(Method::PATCH, path, Some(patch_op(ops))).await
    }
    async fn delete(&self, path: &str) -> Answer {
        self.scim(Method::DELETE, path, None).await
    }

    /// Okta's pre-check before a create: `userName eq` with its paging parameters.
    async fn find_user(&self, user_name: &str) -> Answer {
        let filter = enc(&format!("userName eq \"{user_name}\""));
        self.get(&format!("/Users?filter={filter}&startIndex=1&count=100"))
            .await
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// The shipped seed, plus bulk users so that the users list has more than one page.
fn seed() -> Value {
    let text = std::fs::read_to_string(repo().join("mappings/json-server/db.json")).unwrap();
    let mut db: Value = serde_json::from_str(&text).unwrap();
    let users = db["users"].as_array_mut().unwrap();
    let first = users.len() as u64 + 1;
    for id in first..first + BULK_USERS {
        users.push(json!({
            "id": id,
            "username": format!("bulk{id}@example.com"),
            "email": format!("bulk{id}@example.com"),
            "firstName": "Bulk",
            "lastName": format!("User{id}"),
            "active": true,
            "role": "member"
        }));
    }
    db
}

fn id_num(resource: &Value) -> u64 {
    resource["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no numeric string id in {resource}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_flows_against_a_real_json_server() {
    if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
        eprintln!("{SKIP_VAR}=1: skipping the json-server end-to-end test");
        return;
    }
    let entry = install().unwrap_or_else(|why| {
        panic!(
            "json-server is not installed and could not be installed:\n{why}\n\
             Install Node.js and npm (as root: apt-get update && apt-get install -y nodejs npm), \
             then run .ci/install-json-server.sh (CI does both), or set {SKIP_VAR}=1 to skip \
             this test."
        )
    });
    let started = Instant::now();
    let dir = temp_dir("json-server");
    let app = JsonServer::start(&entry, &dir, &seed()).await;
    let sidecar = Sidecar::start(&app.base_url).await;
    users(&app, &sidecar).await;
    groups(&app, &sidecar).await;
    sidecar.stop().await;
    eprintln!(
        "json-server end-to-end flows took {:?} (install check excluded)",
        started.elapsed()
    );
}

async fn users(app: &JsonServer, s: &Sidecar) {
    let seeded = app.db().await["users"].as_array().unwrap().len();

    // Okta's pre-check finds nobody; json-server got the `q` search, not `?username=`.
    let a = s.find_user("ada.lovelace@example.com").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);
    assert!(app.logged("GET /users?q=ada.lovelace%40example.com").await);

    // Create.
    let a = s
        .post(
            "/Users",
            okta_user("ada.lovelace@example.com", "Ada", "Lovelace"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let ada = id_num(&a.body);
    assert_eq!(ada, seeded as u64 + 1, "json-server numbers new records");
    assert_eq!(a.body["userName"], "ada.lovelace@example.com");
    assert_eq!(a.body["active"], true);
    assert!(a.body.get("password").is_none(), "{}", a.body);
    let stored = app.user(ada).await.expect("ada is in db.json");
    assert_eq!(
        stored,
        json!({
            "username": "ada.lovelace@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "displayName": "Ada Lovelace",
            "email": "ada.lovelace@example.com",
            "active": true,
            "externalId": "00u24",
            "id": ada
        }),
        "exactly the mapped fields, no password"
    );

    // Get.
    let a = s.get(&format!("/Users/{ada}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["familyName"], "Lovelace");
    assert_eq!(a.body["emails"][0]["value"], "ada.lovelace@example.com");
    assert_eq!(a.body["externalId"], "00u24");
    s.get("/Users/999999").await.assert_error(404, None);

    // userName is matched ignoring case, although json-server's exact match would not.
    let a = s.find_user("ADA.Lovelace@EXAMPLE.com").await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(id_num(&a.body["Resources"][0]), ada);
    let a = s.find_user("linus.pauling@example.com").await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(
        a.body["Resources"][0]["userName"],
        "Linus.Pauling@Example.com"
    );
    // A substring of another user is not a match (json-server's `q` is a substring search).
    let a = s.find_user("lovelace@example.com").await;
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);

    // Duplicates, in any case, are refused by the sidecar: json-server would store them.
    for name in ["ada.lovelace@example.com", "Grace.Hopper@Example.com"] {
        let a = s.post("/Users", okta_user(name, "Dup", "Licate")).await;
        a.assert_error(409, Some("uniqueness"));
    }
    assert_eq!(
        app.db().await["users"].as_array().unwrap().len(),
        seeded + 1
    );

    // Concurrent creates of one new name: exactly one wins.
    let tries =
        (0..4).map(|_| s.post("/Users", okta_user("race@example.com", "Race", "Condition")));
    let answers = futures_util::future::join_all(tries).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
    let races = app.db().await["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "race@example.com")
        .count();
    assert_eq!(races, 1, "one race@example.com in db.json");

    // PATCH deactivate and reactivate a user made in the application: its unmapped fields stay.
    let grace_before = app.user(1).await.unwrap();
    let a = s
        .patch(
            "/Users/1",
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["active"], false);
    let grace = app.user(1).await.unwrap();
    assert_eq!(grace["active"], false);
    for kept in ["role", "lastLogin", "title", "displayName", "email"] {
        assert_eq!(grace[kept], grace_before[kept], "{kept} kept: {grace}");
    }
    let a = s
        .patch(
            "/Users/1",
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!(a.body["active"], true, "{}", a.body);
    assert_eq!(app.user(1).await.unwrap()["active"], true);
    // A bad value is refused before json-server sees it.
    let a = s
        .patch(
            "/Users/1",
            json!([{"op": "replace", "value": {"active": "maybe"}}]),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(app.user(1).await.unwrap()["active"], true);

    // PUT (Okta's profile push): the whole record goes back, unmapped fields included.
    let mut profile = okta_user("grace.hopper@example.com", "Grace", "Murray Hopper");
    profile["title"] = json!("Commodore");
    profile["externalId"] = json!("00u-grace");
    let a = s.put("/Users/1", profile).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["familyName"], "Murray Hopper");
    let grace = app.user(1).await.unwrap();
    assert_eq!(grace["lastName"], "Murray Hopper");
    assert_eq!(grace["title"], "Commodore");
    assert_eq!(grace["externalId"], "00u-grace");
    assert_eq!(
        grace["role"], "admin",
        "unmapped field survives PUT: {grace}"
    );
    assert_eq!(grace["lastLogin"], grace_before["lastLogin"]);

    // Renaming to a taken userName is refused; json-server's record is unchanged.
    let before = app.user(ada).await.unwrap();
    let a = s
        .patch(
            &format!("/Users/{ada}"),
            json!([{"op": "replace", "path": "userName", "value": "GRACE.hopper@example.com"}]),
        )
        .await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(app.user(ada).await.unwrap(), before);
    // A change of case only is allowed.
    let a = s
        .patch(
            &format!("/Users/{ada}"),
            json!([{"op": "replace", "path": "userName", "value": "Ada.Lovelace@example.com"}]),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        app.user(ada).await.unwrap()["username"],
        "Ada.Lovelace@example.com"
    );

    // A filter json-server cannot answer is evaluated by the sidecar over every page.
    let filter = enc("name.familyName eq \"murray hopper\"");
    let a = s.get(&format!("/Users?filter={filter}")).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(id_num(&a.body["Resources"][0]), 1);
    assert!(app.logged("GET /users?_page=2&_limit=100").await);

    // Okta's import: pages of 100 across json-server's pages; every record once.
    let total = app.db().await["users"].as_array().unwrap().len();
    assert!(total > 100, "the seed spans two json-server pages");
    let mut seen = BTreeSet::new();
    let mut start = 1;
    loop {
        let a = s.get(&format!("/Users?startIndex={start}&count=100")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["totalResults"], total, "X-Total-Count read");
        let page = a.body["Resources"].as_array().unwrap();
        assert!(!page.is_empty() || start > total, "{}", a.body);
        for r in page {
            assert!(seen.insert(id_num(r)), "{} listed twice", r["id"]);
        }
        start += page.len();
        if page.is_empty() || start > total {
            break;
        }
    }
    let stored: BTreeSet<u64> = app.db().await["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["id"].as_u64())
        .collect();
    assert_eq!(seen, stored);
    // A page that starts inside json-server's first page and ends in its second.
    let a = s.get("/Users?startIndex=99&count=5").await;
    let ids: Vec<u64> = a.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_num)
        .collect();
    assert_eq!(ids, [99, 100, 101, 102, 103]);

    // Delete.
    let race = answers
        .iter()
        .find(|a| a.status == 201)
        .map(|a| id_num(&a.body))
        .unwrap();
    let a = s.delete(&format!("/Users/{race}")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(app.user(race).await.is_none(), "deleted from db.json");
    s.get(&format!("/Users/{race}"))
        .await
        .assert_error(404, None);
    s.delete(&format!("/Users/{race}"))
        .await
        .assert_error(404, None);
}

async fn groups(app: &JsonServer, s: &Sidecar) {
    let ada = app.db().await["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["firstName"] == "Ada")
        .and_then(|u| u["id"].as_u64())
        .unwrap();

    // Okta's "Push Groups": look the name up, create, with one member.
    let filter = enc("displayName eq \"Engineering\"");
    let a = s.get(&format!("/Groups?filter={filter}")).await;
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);
    let a = s
        .post(
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": ada.to_string()}]
            }),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let eng = id_num(&a.body);
    assert_eq!(a.body["members"][0]["value"], ada.to_string());
    assert_eq!(
        app.group(eng).await.unwrap(),
        json!({"name": "Engineering", "memberIds": [ada], "id": eng}),
        "member ids stored as numbers"
    );
    let a = s
        .get(&format!(
            "/Groups?filter={}",
            enc("displayName eq \"engineering\"")
        ))
        .await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);

    // A second group with the name, in any case, is refused.
    let a = s
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ENGINEERING"}),
        )
        .await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(app.db().await["groups"].as_array().unwrap().len(), 2);

    // Add members (Okta sends them with `display`), then remove one.
    let a = s
        .patch(
            &format!("/Groups/{eng}"),
            json!([{"op": "add", "path": "members", "value": [
                {"value": "1", "display": "grace.hopper@example.com"},
                {"value": "2", "display": "Linus.Pauling@Example.com"}
            ]}]),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(
        app.group(eng).await.unwrap()["memberIds"],
        json!([ada, 1, 2])
    );
    let a = s
        .patch(
            &format!("/Groups/{eng}"),
            json!([{"op": "remove", "path": "members[value eq \"1\"]"}]),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(app.group(eng).await.unwrap()["memberIds"], json!([ada, 2]));
    // An unknown user is refused before anything is written.
    let a = s
        .patch(
            &format!("/Groups/{eng}"),
            json!([{"op": "add", "path": "members", "value": [{"value": "424242"}]}]),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(app.group(eng).await.unwrap()["memberIds"], json!([ada, 2]));

    // The seeded group: members change, its unmapped description stays.
    let ops_before = app.group(1).await.unwrap();
    let a = s
        .patch(
            "/Groups/1",
            json!([{"op": "add", "path": "members", "value": [{"value": ada.to_string()}]}]),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let ops = app.group(1).await.unwrap();
    assert_eq!(ops["memberIds"], json!([1, 2, ada]));
    assert_eq!(ops["description"], ops_before["description"]);

    // Rename (Okta sends the id along): the member list survives the full-record PUT.
    let a = s
        .patch(
            &format!("/Groups/{eng}"),
            json!([{"op": "replace", "value": {"id": eng.to_string(), "displayName": "Platform"}}]),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let stored = app.group(eng).await.unwrap();
    assert_eq!(stored["name"], "Platform");
    assert_eq!(stored["memberIds"], json!([ada, 2]));
    // Renaming onto another group's name is refused.
    let a = s
        .patch(
            &format!("/Groups/{eng}"),
            json!([{"op": "replace", "value": {"id": eng.to_string(), "displayName": "operators"}}]),
        )
        .await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(app.group(eng).await.unwrap()["name"], "Platform");
    let a = s.get(&format!("/Groups/{eng}")).await;
    assert_eq!(a.body["displayName"], "Platform", "{}", a.body);
    let members: BTreeSet<String> = a.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    assert_eq!(members, BTreeSet::from([ada.to_string(), "2".to_string()]));

    // Delete.
    let a = s.delete(&format!("/Groups/{eng}")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(app.group(eng).await.is_none());
    assert!(app.group(1).await.is_some(), "the other group stays");
    s.get(&format!("/Groups/{eng}"))
        .await
        .assert_error(404, None);
}
