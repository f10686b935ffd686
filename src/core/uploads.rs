//! Who may write to this peer's disk, and how much: the `--uploads` policy, `--max-upload` and
//! `--quota`, sizes in human units, and the 250 sentences that refuse an upload before any byte
//! of it is written. Pure: the store keeps the counts and asks these rules.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// `--uploads`: whose `#UPLOAD` this peer accepts. Downloads are open to everyone whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Uploads {
    /// Anyone who can reach the port (the seed's behaviour).
    #[default]
    All,
    /// Only addresses in peer_settings.txt (and, with --join, peers the tracker lists).
    Known,
    /// Nobody: every #UPLOAD is answered with a 250 saying uploads are off.
    None,
}

impl fmt::Display for Uploads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Uploads::All => "all",
            Uploads::Known => "known",
            Uploads::None => "none",
        })
    }
}

/// The addresses `--uploads known` accepts: those of peer_settings.txt, resolved at start, and
/// optionally a live source (the tracker's directory).
#[derive(Clone, Default)]
pub struct KnownPeers {
    fixed: HashSet<IpAddr>,
    live: Option<Arc<dyn Fn(IpAddr) -> bool + Send + Sync>>,
}

impl fmt::Debug for KnownPeers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownPeers")
            .field("fixed", &self.fixed)
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl KnownPeers {
    pub fn new(fixed: impl IntoIterator<Item = IpAddr>) -> KnownPeers {
        KnownPeers {
            fixed: fixed.into_iter().map(|ip| ip.to_canonical()).collect(),
            live: None,
        }
    }

    /// Also accepts the addresses `live` accepts (asked at each upload).
    pub fn with_live(mut self, live: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>) -> KnownPeers {
        self.live = Some(live);
        self
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.fixed.contains(&ip) || self.live.as_ref().is_some_and(|live| live(ip))
    }
}

/// The rules one peer applies to uploads.
#[derive(Debug, Clone, Default)]
pub struct UploadRules {
    pub policy: Uploads,
    pub known: KnownPeers,
    /// `--max-upload`: the largest file accepted, in bytes.
    pub max_file: Option<u64>,
    /// `--quota`: all bytes received by upload since the peer started, in bytes.
    pub quota: Option<u64>,
}

/// Why an upload is refused, before any byte of it is written; `Display` is the 250 sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Off {
        file: String,
    },
    Unknown {
        file: String,
        from: IpAddr,
    },
    OverFileLimit {
        file: String,
        size: u64,
        limit: u64,
    },
    OverQuota {
        file: String,
        size: u64,
        left: u64,
        quota: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Off { file } => {
                write!(f, "Not receiving file {file}: uploads are off on this peer")
            }
            Refusal::Unknown { file, from } => write!(
                f,
                "Not receiving file {file}: this peer takes uploads only from known peers, and {from} is not one"
            ),
            Refusal::OverFileLimit { file, size, limit } => write!(
                f,
                "File {file} too large: {size} bytes, over this peer's upload limit of {} ({limit} bytes) a file",
                human(*limit)
            ),
            Refusal::OverQuota {
                file,
                size,
                left,
                quota,
            } => write!(
                f,
                "File {file} too large: {size} bytes, and only {left} bytes are left of this peer's upload quota of {} ({quota} bytes)",
                human(*quota)
            ),
        }
    }
}

impl UploadRules {
    /// Whether a client at `from` may upload at all.
    pub fn admits(&self, file: &str, from: IpAddr) -> Result<(), Refusal> {
        match self.policy {
            Uploads::All => Ok(()),
            Uploads::None => Err(Refusal::Off { file: file.into() }),
            Uploads::Known if self.known.contains(from) => Ok(()),
            Uploads::Known => Err(Refusal::Unknown {
                file: file.into(),
                from: from.to_canonical(),
            }),
        }
    }

    /// Whether a file of `size` bytes fits the limits, with `used` bytes of the quota already
    /// received or held by uploads in progress.
    pub fn fits(&self, file: &str, size: u64, used: u64) -> Result<(), Refusal> {
        if let Some(limit) = self.max_file.filter(|&limit| size > limit) {
            return Err(Refusal::OverFileLimit {
                file: file.into(),
                size,
                limit,
            });
        }
        if let Some(quota) = self.quota {
            let left = quota.saturating_sub(used);
            if size > left {
                return Err(Refusal::OverQuota {
                    file: file.into(),
                    size,
                    left,
                    quota,
                });
            }
        }
        Ok(())
    }
}

/// What the UI shows of the upload rules: a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadStatus {
    pub policy: Uploads,
    pub max_file: Option<u64>,
    pub quota: Option<u64>,
    /// Bytes of uploads completed since the peer started (what the quota counts).
    pub received: u64,
    /// Bytes declared by uploads in progress, held against the quota until they end.
    pub in_progress: u64,
}

/// One line for a panel: `uploads: known · max 10M a file · quota 1.2M of 2G used`.
impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.policy {
            Uploads::All => "anyone",
            Uploads::Known => "known peers",
            Uploads::None => "off",
        };
        write!(f, "uploads: {who}")?;
        if self.policy == Uploads::None {
            return Ok(());
        }
        if let Some(max) = self.max_file {
            write!(f, " · max {} a file", human(max))?;
        }
        if let Some(quota) = self.quota {
            let used = self.received.saturating_add(self.in_progress);
            write!(f, " · quota {} of {} used", human(used), human(quota))?;
        }
        Ok(())
    }
}

const UNITS: [(char, u32); 5] = [('K', 10), ('M', 20), ('G', 30), ('T', 40), ('P', 50)];

/// A size with a binary unit, as `--max-upload` and `--quota` take it: `500`, `64K`, `10M`,
/// `1.5G`, `2T` (K = 1024; a trailing `B` or `iB` is allowed, case is not significant).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size (examples: 500, 64K, 10M, 1.5G, 2T)");
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let body = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (number, shift) = match body.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let shift = UNITS
                .iter()
                .find(|(unit, _)| *unit == c)
                .map(|(_, shift)| *shift)
                .ok_or_else(bad)?;
            (&body[..body.len() - 1], shift)
        }
        _ => (body, 0),
    };
    let number = number.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(1u64 << shift).ok_or_else(bad);
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = (value * (1u64 << shift) as f64).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// `bytes` in the largest unit that keeps it short: `10M`, `1.5G`, `999`, `1.2K`.
pub fn human(bytes: u64) -> String {
    let Some((unit, shift)) = UNITS.iter().rev().find(|(_, shift)| bytes >> shift > 0) else {
        return bytes.to_string();
    };
    let whole = bytes >> shift;
    if whole << shift == bytes {
        return format!("{whole}{unit}");
    }
    let value = bytes as f64 / (1u64 << shift) as f64;
    if value < 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("500"), Ok(500));
        assert_eq!(parse_size("64K"), Ok(65_536));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("10mb"), Ok(10 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in [
            "",
            "M",
            "-1",
            "10X",
            "1e9",
            "10 M M",
            "99999999999999999999",
            "20000000T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_print_short() {
        assert_eq!(human(999), "999");
        assert_eq!(human(10 << 20), "10M");
        assert_eq!(human(3 << 29), "1.5G");
        assert_eq!(human(1_000_000), "977K");
        for text in ["10M", "2G", "64K", "1.5G"] {
            assert_eq!(human(parse_size(text).unwrap()), text);
        }
    }

    #[test]
    fn policies_admit_whom_they_say() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut rules = UploadRules {
            known: KnownPeers::new([v4("10.0.0.2")]),
            ..UploadRules::default()
        };
        assert!(rules.admits("f", v4("10.9.9.9")).is_ok());
        rules.policy = Uploads::Known;
        assert!(rules.admits("f", v4("10.0.0.2")).is_ok());
        assert!(rules.admits("f", v4("::ffff:10.0.0.2")).is_ok());
        let refused = rules.admits("f", v4("10.9.9.9")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Not receiving file f: this peer takes uploads only from known peers, and 10.9.9.9 is not one"
        );
        rules.known = rules
            .known
            .clone()
            .with_live(Arc::new(|ip| ip.is_loopback()));
        assert!(rules.admits("f", v4("127.0.0.1")).is_ok());
        rules.policy = Uploads::None;
        assert_eq!(
            rules.admits("f", v4("10.0.0.2")).unwrap_err().to_string(),
            "Not receiving file f: uploads are off on this peer"
        );
    }

    #[test]
    fn limits_refuse_with_the_numbers() {
        let rules = UploadRules {
            max_file: Some(10 << 20),
            quota: Some(15 << 20),
            ..UploadRules::default()
        };
        assert!(rules.fits("f", 10 << 20, 0).is_ok());
        assert_eq!(
            rules
                .fits("big", (10 << 20) + 1, 0)
                .unwrap_err()
                .to_string(),
            "File big too large: 10485761 bytes, over this peer's upload limit of 10M (10485760 bytes) a file"
        );
        assert_eq!(
            rules.fits("f", 6 << 20, 10 << 20).unwrap_err().to_string(),
            "File f too large: 6291456 bytes, and only 5242880 bytes are left of this peer's upload quota of 15M (15728640 bytes)"
        );
        assert!(rules.fits("f", 5 << 20, 10 << 20).is_ok());
    }

    #[test]
    fn the_status_line_says_the_rules() {
        let mut status = UploadStatus {
            policy: Uploads::Known,
            max_file: Some(10 << 20),
            quota: Some(2 << 30),
            received: 3 << 19,
            in_progress: 0,
        };
        assert_eq!(
            status.to_string(),
            "uploads: known peers · max 10M a file · quota 1.5M of 2G used"
        );
        status.policy = Uploads::None;
        assert_eq!(status.to_string(), "uploads: off");
        assert_eq!(UploadStatus::default().to_string(), "uploads: anyone");
    }
}
