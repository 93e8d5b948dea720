//! Deadlines on the wire, both ways: gRPC's `grpc-timeout` (gRPC and
//! gRPC-Web) and Connect's `connect-timeout-ms`.

use std::time::Duration;

use http::HeaderMap;

/// Encodes a deadline as gRPC's `grpc-timeout` (at most 8 digits and a
/// unit), choosing the finest unit that fits.
pub fn encode(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    for (unit, per) in [
        ("n", 1u128),
        ("u", 1_000),
        ("m", 1_000_000),
        ("S", 1_000_000_000),
        ("M", 60_000_000_000),
        ("H", 3_600_000_000_000),
    ] {
        let value = nanos.div_ceil(per);
        if value <= MAX {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX}H")
}

/// The client's deadline: grpc-timeout, or Connect's connect-timeout-ms.
pub fn from_headers(connect: bool, headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if connect {
        text("connect-timeout-ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    } else {
        text("grpc-timeout").and_then(parse_grpc_timeout)
    }
}

/// `grpc-timeout`: up to eight digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_use_the_finest_unit_that_fits() {
        assert_eq!(encode(Duration::from_millis(2500)), "2500000u");
        assert_eq!(encode(Duration::from_secs(1000)), "1000000m");
        assert_eq!(encode(Duration::from_secs(86400 * 365)), "31536000S");
        assert_eq!(encode(Duration::from_secs(86400 * 3650)), "5256000M");
    }

    #[test]
    fn grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("m"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("10x"), None);
    }
}
