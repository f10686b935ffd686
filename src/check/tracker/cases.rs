//! The `--check-tracker` cases, one async function each. Every case announces names of its own
//! (unique per run) for serving ports of its own, so the cases can run at once against one
//! tracker and judge only their own entries.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dir::{Directory, ask, expect_entry, initial, keep_alive, names, reply};
use super::env::Env;
use super::wire::JsonConn;
use crate::check::wire::{Checked, Ctx, fail};

/// An mtime near now, in whole seconds.
fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// The directory as a peer that has just joined sees it: a fresh connection from `observer`'s
/// port that announces no files.
async fn look(ctx: &Ctx, env: &Env, observer: u16) -> Checked<Directory> {
    let mut conn = JsonConn::connect(ctx, "o", None).await?;
    ask(
        ctx,
        &mut conn,
        env.reply_wait,
        &initial(observer, &[]),
        "initial message (no files)",
    )
    .await
}

pub async fn initial_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime) = (env.port(0), now_secs() - 100);
    let (one, two) = (ctx.name("initial-a"), ctx.name("initial-b"));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    let message = initial(port, &[(&one, mtime), (&two, mtime + 7)]);
    let dir = ask(&ctx, &mut a, env.reply_wait, &message, "initial message").await?;
    expect_entry(&dir, &one, port, mtime, "initial message")?;
    expect_entry(&dir, &two, port, mtime + 7, "initial message")
}

pub async fn keep_alive_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime, name) = (env.port(10), now_secs() - 200, ctx.name("keep-alive"));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    ask(
        &ctx,
        &mut a,
        env.reply_wait,
        &initial(port, &[(&name, mtime)]),
        "initial message",
    )
    .await?;
    for _ in 0..2 {
        let dir = ask(
            &ctx,
            &mut a,
            env.reply_wait,
            &keep_alive(port),
            "keep-alive message",
        )
        .await?;
        expect_entry(&dir, &name, port, mtime, "keep-alive message")?;
    }
    Ok(())
}

/// Keep-alives at a third of the tracker's timeout for one and a half timeouts: the peer is
/// still listed. Their replies are read but not judged (that is `keep-alive`).
pub async fn alive_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime, name) = (env.port(20), now_secs() - 300, ctx.name("alive"));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    ask(
        &ctx,
        &mut a,
        env.reply_wait,
        &initial(port, &[(&name, mtime)]),
        "initial message",
    )
    .await?;
    let period = (env.peer_timeout / 3).min(Duration::from_secs(5));
    let end = tokio::time::Instant::now() + env.peer_timeout.mul_f64(1.5);
    while tokio::time::Instant::now() < end {
        tokio::time::sleep(period).await;
        a.send(&keep_alive(port)).await?;
        let _ = a.next(period.min(Duration::from_secs(1))).await;
    }
    let dir = look(&ctx, &env, env.port(21)).await?;
    expect_entry(&dir, &name, port, mtime, "initial message of a peer that joined later").or_else(|e| {
        fail(format!(
            "a peer that sent a keep-alive every {:.1} s for {:.1} s (1.5 times the tracker's timeout) was dropped: {}",
            period.as_secs_f64(),
            env.peer_timeout.mul_f64(1.5).as_secs_f64(),
            e.0
        ))
    })
}

/// A peer that announces a name and then says nothing (its connection left open): listed at
/// half the timeout, gone by one and a half timeouts and 2 s.
pub async fn silent_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime, name) = (env.port(30), now_secs() - 400, ctx.name("silent"));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    ask(
        &ctx,
        &mut a,
        env.reply_wait,
        &initial(port, &[(&name, mtime)]),
        "initial message",
    )
    .await?;
    let joined = tokio::time::Instant::now();
    tokio::time::sleep(env.peer_timeout / 2).await;
    let early = look(&ctx, &env, env.port(31)).await?;
    if !early.contains_key(&name) {
        return fail(format!(
            "a silent peer was dropped before half the tracker's timeout ({:.1} s)",
            env.peer_timeout.as_secs_f64()
        ));
    }
    let limit = env.peer_timeout.mul_f64(1.5) + Duration::from_secs(2);
    let poll = (env.peer_timeout / 20).max(Duration::from_millis(250));
    loop {
        tokio::time::sleep(poll).await;
        let dir = look(&ctx, &env, env.port(31)).await?;
        if !dir.contains_key(&name) {
            return Ok(());
        }
        if joined.elapsed() > limit {
            return fail(format!(
                "a peer silent for {:.1} s (the tracker's timeout is {:.1} s) is still listed: \"{name}\"",
                joined.elapsed().as_secs_f64(),
                env.peer_timeout.as_secs_f64()
            ));
        }
    }
}

/// Three peers announce one name: newer, then older (the newer stays), then newest (it wins).
pub async fn newest_case(ctx: Ctx, env: Env) -> Checked {
    let name = ctx.name("newest");
    let t = now_secs() - 5000;
    let (pa, pb, pc) = (env.port(40), env.port(41), env.port(42));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    let dir = ask(
        &ctx,
        &mut a,
        env.reply_wait,
        &initial(pa, &[(&name, t + 2000)]),
        "initial message",
    )
    .await?;
    expect_entry(&dir, &name, pa, t + 2000, "initial message")?;
    let mut b = JsonConn::connect(&ctx, "b", None).await?;
    let dir = ask(
        &ctx,
        &mut b,
        env.reply_wait,
        &initial(pb, &[(&name, t + 1000)]),
        "initial message",
    )
    .await?;
    expect_entry(
        &dir,
        &name,
        pa,
        t + 2000,
        "initial message of a peer with an older copy",
    )
    .or_else(|e| fail(format!("an older copy replaced the newer one: {}", e.0)))?;
    let mut c = JsonConn::connect(&ctx, "c", None).await?;
    let dir = ask(
        &ctx,
        &mut c,
        env.reply_wait,
        &initial(pc, &[(&name, t + 3000)]),
        "initial message",
    )
    .await?;
    expect_entry(
        &dir,
        &name,
        pc,
        t + 3000,
        "initial message of a peer with a newer copy",
    )
    .or_else(|e| fail(format!("the newest copy did not win: {}", e.0)))
}

/// The peer connects from 127.0.0.2 (when the tracker is on IPv4 loopback): the directory
/// must show the address the tracker sees, and the port the peer announced.
pub async fn address_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime, name) = (env.port(50), now_secs() - 600, ctx.name("address"));
    let from = match tokio::net::lookup_host(&ctx.addr)
        .await
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(addr) if addr.ip().is_loopback() && addr.is_ipv4() => {
            Some(IpAddr::from([127, 0, 0, 2]))
        }
        _ => None,
    };
    let mut a = JsonConn::connect(&ctx, "a", from).await?;
    let dir = ask(
        &ctx,
        &mut a,
        env.reply_wait,
        &initial(port, &[(&name, mtime)]),
        "initial message",
    )
    .await?;
    let seen = a.local.ip().to_string();
    match dir.get(&name) {
        Some(e) if e.ip == seen && e.port == i64::from(port) => Ok(()),
        Some(e) => fail(format!(
            "\"{name}\" is listed at {}:{}, not at {seen}:{port} (the address the connection came from, and the port the peer announced)",
            e.ip, e.port
        )),
        None => fail(format!(
            "the directory does not list \"{name}\": {}",
            names(&dir)
        )),
    }
}

/// The initial message in three writes, 100 ms apart.
pub async fn split_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime, name) = (env.port(60), now_secs() - 700, ctx.name("split"));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    let mut bytes = initial(port, &[(&name, mtime)]).to_string().into_bytes();
    bytes.push(b'\n');
    let half = bytes.len() / 2;
    for part in [&bytes[..5], &bytes[5..half], &bytes[half..]] {
        a.send_raw(part).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dir = reply(
        &ctx,
        &mut a,
        env.reply_wait,
        "initial message sent in three parts",
    )
    .await?;
    expect_entry(
        &dir,
        &name,
        port,
        mtime,
        "initial message sent in three parts",
    )
}

/// An initial message and a second one (a repeated initial, with one more name) in one write:
/// two directory responses.
pub async fn two_in_one_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime) = (env.port(70), now_secs() - 800);
    let (one, two) = (ctx.name("two-a"), ctx.name("two-b"));
    let mut a = JsonConn::connect(&ctx, "a", None).await?;
    let first = initial(port, &[(&one, mtime)]);
    let second = initial(port, &[(&one, mtime), (&two, mtime)]);
    a.send_raw(format!("{first}\n{second}\n").as_bytes())
        .await?;
    let dir = reply(
        &ctx,
        &mut a,
        env.reply_wait,
        "first of two messages in one write",
    )
    .await?;
    expect_entry(
        &dir,
        &one,
        port,
        mtime,
        "first of two messages in one write",
    )?;
    let dir = reply(
        &ctx,
        &mut a,
        env.reply_wait,
        "second of two messages in one write",
    )
    .await?;
    expect_entry(
        &dir,
        &two,
        port,
        mtime,
        "second of two messages in one write",
    )
}

/// Bad JSON and wrong types on two connections: another peer, joined before, is answered and
/// still listed, and a newcomer is answered.
pub async fn bad_json_case(ctx: Ctx, env: Env) -> Checked {
    let (port, mtime, name) = (env.port(80), now_secs() - 900, ctx.name("bad-json"));
    let message = initial(port, &[(&name, mtime)]);
    let mut y = JsonConn::connect(&ctx, "y", None).await?;
    ask(&ctx, &mut y, env.reply_wait, &message, "initial message").await?;
    // Both bad peers connect before either sends: a tracker that dies of the first is then
    // seen failing the peers that matter, not (depending on timing) refusing the second.
    let mut x = JsonConn::connect(&ctx, "x", None).await?;
    let mut w = JsonConn::connect(&ctx, "w", None).await?;
    x.send_raw(b"{\"port\": 8001, \"files\": [}\n").await?;
    // Whether this reaches a tracker that closed w already is not what the case checks.
    let _ = w.send_raw(b"{\"port\": \"8001\", \"files\": 5}\n").await;
    let settle = env.reply_wait.min(Duration::from_secs(1));
    let (_, _) = tokio::join!(x.closed_within(settle), w.closed_within(settle));
    let again = "repeated initial message, after other peers sent bad JSON";
    let dir = ask(&ctx, &mut y, env.reply_wait, &message, again).await?;
    expect_entry(&dir, &name, port, mtime, again)?;
    let dir = look(&ctx, &env, env.port(81)).await?;
    expect_entry(
        &dir,
        &name,
        port,
        mtime,
        "initial message of a peer that joined after the bad JSON",
    )
}
