import Foundation

/// A source's way of saying "slow down", read from one response.
public struct RateLimitSignal: Sendable, Equatable {
    /// Whether the response still carries usable data (X's `x-rate-limit-remaining: 0` on a
    /// 200) or was a refusal (429, Alpha Vantage's note instead of data).
    public enum Kind: Sendable, Equatable {
        case refused
        case servedLast
    }

    public let kind: Kind
    /// When the key may be used again.
    public let until: Date
    /// True when the signal means the key's daily allowance is spent.
    public let dailyQuotaSpent: Bool
    /// A short, credential-free explanation (the source's note, the header that said so).
    public let reason: String
}

/// Recognises rate limiting in responses: HTTP 429 with Retry-After (seconds or HTTP date)
/// or X's reset header, X's `x-rate-limit-remaining: 0`, and Alpha Vantage's habit of
/// answering 200 with a top-level `Note` or `Information` about call frequency.
public enum RateLimitDetector {
    /// How long to stop when a source refuses without saying until when.
    public static let defaultPause: TimeInterval = 60

    /// Bodies larger than this are data, not a rate-limit note; they are not parsed.
    static let noteBodyLimit = 4096

    /// The rate-limit signal in `response`, if any. `bodyNotes` enables the Alpha Vantage
    /// body check (other sources' bodies are never interpreted).
    public static func signal(in response: HTTPResponse, now: Date, bodyNotes: Bool) -> RateLimitSignal? {
        if response.status == 429 {
            if let until = retryAfter(response.headers, now: now) {
                return RateLimitSignal(kind: .refused, until: until, dailyQuotaSpent: false, reason: "HTTP 429 with Retry-After")
            }
            if let until = resetHeader(response.headers) {
                return RateLimitSignal(kind: .refused, until: max(until, now), dailyQuotaSpent: false, reason: "HTTP 429 with rate-limit reset header")
            }
            return RateLimitSignal(kind: .refused, until: now + defaultPause, dailyQuotaSpent: false, reason: "HTTP 429")
        }
        if response.isSuccess, bodyNotes, let note = alphaVantageNote(response.body) {
            let daily = mentionsDailyLimit(note)
            let until = daily ? UTCDay(now).end : now + defaultPause
            return RateLimitSignal(kind: .refused, until: until, dailyQuotaSpent: daily, reason: "rate-limit note: \(note.prefix(200))")
        }
        if let remaining = remainingHeader(response.headers), remaining <= 0, let until = resetHeader(response.headers), until > now {
            return RateLimitSignal(kind: .servedLast, until: until, dailyQuotaSpent: false, reason: "rate-limit remaining 0")
        }
        return nil
    }

    /// The instant a `Retry-After` header names: delta seconds or an HTTP date.
    public static func retryAfter(_ headers: HTTPHeaders, now: Date) -> Date? {
        guard let value = headers["Retry-After"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), seconds >= 0 { return now + seconds }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: value) { return max(date, now) }
        }
        return nil
    }

    /// `x-rate-limit-reset` (X; Unix seconds) or `x-ratelimit-reset`.
    static func resetHeader(_ headers: HTTPHeaders) -> Date? {
        guard let value = headers["x-rate-limit-reset"] ?? headers["x-ratelimit-reset"], let seconds = Double(value.trimmingCharacters(in: .whitespaces)) else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    static func remainingHeader(_ headers: HTTPHeaders) -> Int? {
        (headers["x-rate-limit-remaining"] ?? headers["x-ratelimit-remaining"]).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The text of a top-level `Note` or `Information` that talks about call limits. A
    /// `Meta Data` block's "1. Information" is metadata, not a note, and is not looked at.
    static func alphaVantageNote(_ body: [UInt8]) -> String? {
        guard body.count <= noteBodyLimit, body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        for field in ["Note", "Information"] {
            guard let text = object[field] as? String else { continue }
            let lower = text.lowercased()
            if ["call frequency", "rate limit", "requests per day", "calls per minute", "calls per day", "api call volume", "premium"].contains(where: lower.contains) {
                return text
            }
        }
        return nil
    }

    /// A daily-limit note ("25 requests per day") stops the key until UTC midnight; a burst
    /// note ("5 calls per minute", "1 request per second", "spreading out") only pauses it,
    /// even when it also quotes the daily figure.
    static func mentionsDailyLimit(_ note: String) -> Bool {
        let lower = note.lowercased()
        if ["per minute", "per second", "spreading out", "call frequency"].contains(where: lower.contains) { return false }
        return lower.contains("per day") || lower.contains("daily")
    }
}
