//! Seed 002's tracker messages as the checker writes them, and the directory response as it
//! judges it: a JSON object mapping each file name to `{"ip", "port", "mtime"}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::causes;
use super::wire::{Ended, JsonConn};
use crate::check::wire::{Checked, Ctx, fail};

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ip: String,
    pub port: i64,
    pub mtime: i64,
}

pub type Directory = BTreeMap<String, Entry>;

/// The initial message: `{"port": P, "files": [{"name": N, "mtime": M}, ...]}`.
pub fn initial(port: u16, files: &[(&str, i64)]) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|(name, mtime)| json!({"name": name, "mtime": mtime}))
        .collect();
    json!({"port": port, "files": files})
}

/// The keep-alive message: `{"port": P}`.
pub fn keep_alive(port: u16) -> Value {
    json!({ "port": port })
}

/// Reads a value as a directory response; why not, if it is not one.
pub fn parse_directory(value: &Value) -> Result<Directory, String> {
    let Value::Object(map) = value else {
        return Err("it is not a JSON object".to_string());
    };
    let mut dir = Directory::new();
    for (name, entry) in map {
        let field = |key: &str| entry.get(key);
        let ip = field("ip").and_then(Value::as_str);
        let port = field("port").and_then(Value::as_i64);
        let mtime = field("mtime").and_then(Value::as_i64);
        match (ip, port, mtime) {
            (Some(ip), Some(port), Some(mtime)) => {
                dir.insert(
                    name.clone(),
                    Entry {
                        ip: ip.to_string(),
                        port,
                        mtime,
                    },
                );
            }
            _ => {
                return Err(format!(
                    "the entry for \"{name}\" is not {{\"ip\": string, \"port\": integer, \"mtime\": integer}}: {entry}"
                ));
            }
        }
    }
    Ok(dir)
}

/// The directory response to the message just sent (`after`: which one, for the sentence).
pub async fn reply(
    ctx: &Ctx,
    conn: &mut JsonConn,
    wait: Duration,
    after: &str,
) -> Checked<Directory> {
    let who = conn.name.clone();
    let (kind, what) = match conn.next(wait).await {
        Ok(value) => match parse_directory(&value) {
            Ok(dir) => return Ok(dir),
            Err(why) => (
                causes::NOT_DIRECTORY,
                format!("{who}: the answer to the {after} is not a directory response: {why}"),
            ),
        },
        Err(Ended::Closed) => (
            causes::CLOSES,
            format!("{who}: the tracker closed the connection instead of answering the {after}"),
        ),
        Err(Ended::TimedOut) => (
            causes::NO_REPLY,
            format!(
                "{who}: no directory response within {:.1} s to the {after}",
                wait.as_secs_f64()
            ),
        ),
        Err(Ended::NotJson(why)) => (
            causes::NOT_JSON,
            format!("{who}: the answer to the {after} is not JSON: {why}"),
        ),
    };
    // The cause and the failure are one sentence: the report says it once.
    ctx.cause(kind, what.clone());
    fail(what)
}

/// Sends `message` and reads the directory response to it.
pub async fn ask(
    ctx: &Ctx,
    conn: &mut JsonConn,
    wait: Duration,
    message: &Value,
    what: &str,
) -> Checked<Directory> {
    conn.send(message).await?;
    reply(ctx, conn, wait, what).await
}

/// `name` is listed for the peer that announced it on `port` with `mtime`.
pub fn expect_entry(dir: &Directory, name: &str, port: u16, mtime: i64, after: &str) -> Checked {
    match dir.get(name) {
        None => fail(format!(
            "the directory response to the {after} does not list \"{name}\" ({} names: {})",
            dir.len(),
            names(dir)
        )),
        Some(e) if e.port != i64::from(port) || e.mtime != mtime => fail(format!(
            "the directory response to the {after} lists \"{name}\" with port {} and mtime {}, not the announced port {port} and mtime {mtime}",
            e.port, e.mtime
        )),
        Some(_) => Ok(()),
    }
}

/// The first few names of a directory, for a sentence.
pub fn names(dir: &Directory) -> String {
    let mut shown: Vec<&str> = dir.keys().take(5).map(String::as_str).collect();
    if dir.len() > 5 {
        shown.push("…");
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_maps_names_to_ip_port_and_mtime() {
        let seed = json!({"fileB.txt": {"ip": "127.0.0.1", "mtime": 1548878750, "port": 8002}});
        let dir = parse_directory(&seed).unwrap();
        assert_eq!(dir["fileB.txt"].port, 8002);
        assert!(parse_directory(&json!({"f": {"ip": "x", "port": "8002", "mtime": 1}})).is_err());
        assert!(parse_directory(&json!([1])).is_err());
        assert!(parse_directory(&json!({})).unwrap().is_empty());
    }
}
