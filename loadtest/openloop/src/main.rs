//! Open-loop load of orders, with latency correction: requests are sent on a fixed schedule
//! whatever the server does, and each one's latency is counted from when it was *due*, not from
//! when a free connection sent it (no coordinated omission). Every request is a real order: a
//! buyer token from a file (rotated) and a fresh `Idempotency-Key`, which neither wrk (closed
//! loop) nor oha (fixed headers) can generate open-loop.
//!
//! ```text
//! openloop --addr 127.0.0.1:8080 --sale 7 --tokens tokens.txt --rate 45000 --seconds 10
//! openloop --addr 127.0.0.1:8080 --get /livez --rate 10000      # the bare endpoint, same schedule
//! ```
//!
//! The schedule is split over the connections (connection k sends requests k, k+C, k+2C, …),
//! as wrk2 does; a connection whose previous answer is late sends the next one at once. Prints
//! per status: count, rate, latency percentiles; and a last line `RESULT …` for scripts.

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    /// `GET` this path instead of placing orders.
    get: Option<String>,
    sale: i64,
    tokens: Vec<String>,
    rate: f64,
    seconds: f64,
    connections: usize,
    quantity: u32,
}

fn args() -> Result<Args, String> {
    let mut raw: BTreeMap<String, String> = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(key) = it.next() {
        let key = key.strip_prefix("--").ok_or(format!("unexpected argument {key}"))?.to_owned();
        let value = it.next().ok_or(format!("--{key} needs a value"))?;
        raw.insert(key, value);
    }
    let get = |key: &str| raw.get(key).cloned().ok_or(format!("--{key} is required"));
    let number = |key: &str, default: &str| -> Result<f64, String> {
        raw.get(key).map_or(default, |v| v.as_str()).parse::<f64>().map_err(|e| format!("--{key}: {e}"))
    };
    let bare = raw.get("get").cloned();
    let path = if bare.is_some() { raw.get("tokens").cloned().unwrap_or_default() } else { get("tokens")? };
    let tokens: Vec<String> = if path.is_empty() {
        vec![String::new()]
    } else {
        std::fs::read_to_string(&path)
            .map_err(|e| format!("{path}: {e}"))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if tokens.is_empty() {
        return Err(format!("{path} lists no token"));
    }
    Ok(Args {
        addr: get("addr")?,
        sale: if bare.is_some() { 0 } else { get("sale")?.parse().map_err(|e| format!("--sale: {e}"))? },
        get: bare,
        tokens,
        rate: number("rate", "1000")?,
        seconds: number("seconds", "10")?,
        connections: number("connections", "1024")? as usize,
        quantity: number("quantity", "1")? as u32,
    })
}

/// What one connection saw: (status or 0 for a transport error, latency in µs).
type Samples = Vec<(u16, u32)>;

async fn connection(k: usize, args: std::sync::Arc<Args>, start: Instant, end: Instant) -> (Samples, u64) {
    let mut samples = Samples::new();
    let mut unsent = 0u64;
    let mut stream: Option<TcpStream> = None;
    let mut buffer = Vec::with_capacity(4096);
    let body = format!("{{\"quantity\":{}}}", args.quantity);
    let path = format!("/api/v1/flash-sales/{}/orders", args.sale);
    let step = args.connections as f64 / args.rate;
    let tag = run_tag();
    let mut j: u64 = 0;
    loop {
        let due = start + Duration::from_secs_f64((k as f64 / args.rate) + j as f64 * step);
        if due >= end {
            break;
        }
        if Instant::now() >= end {
            // The run is over with requests of this connection still due: a server slower
            // than the schedule. They are counted as never sent, not silently dropped.
            unsent += ((end - due).as_secs_f64() / step).ceil() as u64;
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let n = k as u64 + j * args.connections as u64;
        j += 1;
        let token = &args.tokens[(n as usize) % args.tokens.len()];
        let request = match &args.get {
            Some(path) => format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", args.addr),
            None => format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: ol-{k}-{j}-{}\r\nContent-Length: {}\r\n\r\n{body}",
                args.addr,
                tag,
                body.len()
            ),
        };
        let outcome = tokio::time::timeout(Duration::from_secs(10), async {
            if stream.is_none() {
                let s = TcpStream::connect(&args.addr).await?;
                s.set_nodelay(true)?;
                stream = Some(s);
            }
            let s = stream.as_mut().expect("connected");
            s.write_all(request.as_bytes()).await?;
            read_response(s, &mut buffer).await
        })
        .await;
        let latency = due.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match outcome {
            Ok(Ok((status, keep_alive))) => {
                samples.push((status, latency));
                if !keep_alive {
                    stream = None;
                }
            }
            _ => {
                samples.push((0, latency));
                stream = None;
            }
        }
    }
    (samples, unsent)
}

/// Tells this run's keys from an earlier run's against the same server and buyers.
fn run_tag() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Reads one response; returns its status and whether the connection stays open.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<(u16, bool)> {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).map_err(|_| io::ErrorKind::InvalidData)?;
    let status: u16 =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(io::ErrorKind::InvalidData)?;
    let mut length = 0usize;
    let mut keep_alive = true;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| io::ErrorKind::InvalidData)?;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            keep_alive = false;
        }
    }
    let mut have = buffer.len() - head_end;
    while have < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
    }
    Ok((status, keep_alive))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at] as f64 / 1000.0
}

fn main() {
    let args = match args() {
        Ok(args) => std::sync::Arc::new(args),
        Err(problem) => {
            eprintln!("openloop: {problem}");
            eprintln!(
                "usage: openloop --addr HOST:PORT (--sale ID --tokens FILE | --get PATH) [--rate N] [--seconds S] [--connections C] [--quantity Q]"
            );
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (samples, unsent, elapsed): (Samples, u64, f64) = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(200);
        let end = start + Duration::from_secs_f64(args.seconds);
        let tasks: Vec<_> =
            (0..args.connections).map(|k| tokio::spawn(connection(k, args.clone(), start, end))).collect();
        let (mut all, mut unsent) = (Samples::new(), 0);
        for task in tasks {
            let (samples, left) = task.await.expect("connection task");
            all.extend(samples);
            unsent += left;
        }
        (all, unsent, start.elapsed().as_secs_f64())
    });
    let mut by_status: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
    for (status, latency) in &samples {
        by_status.entry(*status).or_default().push(*latency);
    }
    // A server slower than the schedule stretches the run: rates are per second of the run.
    println!(
        "offered {:.0}/s for {:.1} s over {} connections: {} requests, answered within {elapsed:.1} s",
        args.rate,
        args.seconds,
        args.connections,
        samples.len()
    );
    let mut result =
        format!("RESULT offered={:.0} seconds={:.1} elapsed={elapsed:.2}", args.rate, args.seconds);
    for (status, latencies) in &mut by_status {
        latencies.sort_unstable();
        let name = if *status == 0 { "error".to_owned() } else { status.to_string() };
        let (p50, p99, max) =
            (percentile(latencies, 0.50), percentile(latencies, 0.99), percentile(latencies, 1.0));
        println!(
            "  {name}: {} ({:.0}/s)  latency p50 {p50:.2} ms  p99 {p99:.2} ms  max {max:.2} ms",
            latencies.len(),
            latencies.len() as f64 / elapsed
        );
        result.push_str(&format!(
            " s{name}={} s{name}_p50_ms={p50:.2} s{name}_p99_ms={p99:.2}",
            latencies.len()
        ));
    }
    // A closed loop (a rate no server meets) leaves most of its schedule unsent by design.
    println!("  unsent (still due when the run ended): {unsent}");
    result.push_str(&format!(" unsent={unsent}"));
    println!("{result}");
}
