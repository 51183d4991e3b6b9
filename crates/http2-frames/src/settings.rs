//! SETTINGS parameters (RFC 9113 §6.5), the SETTINGS frame and the [`Settings`] state.

use crate::encode::{check_payload_len, put_header};
use crate::error::{EncodeError, ErrorCode, FrameError, Violation};
use crate::header::{Flags, FrameKind};

/// Default SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_HEADER_TABLE_SIZE: u32 = 4096;
/// Default SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_INITIAL_WINDOW_SIZE: u32 = 65_535;
/// Default and smallest SETTINGS_MAX_FRAME_SIZE (2^14, RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;
/// Largest allowed SETTINGS_MAX_FRAME_SIZE (2^24-1, RFC 9113 §6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// Largest flow-control window (2^31-1, RFC 9113 §6.9.1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// Bytes per SETTINGS entry: 16-bit identifier + 32-bit value (RFC 9113 §6.5.1).
const ENTRY_LEN: usize = 6;

/// A SETTINGS parameter identifier (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingId {
    /// 0x1 SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table size the receiver of the
    /// setting may use for encoding.
    HeaderTableSize,
    /// 0x2 SETTINGS_ENABLE_PUSH: 0 or 1.
    EnablePush,
    /// 0x3 SETTINGS_MAX_CONCURRENT_STREAMS.
    MaxConcurrentStreams,
    /// 0x4 SETTINGS_INITIAL_WINDOW_SIZE: at most 2^31-1.
    InitialWindowSize,
    /// 0x5 SETTINGS_MAX_FRAME_SIZE: 2^14..=2^24-1.
    MaxFrameSize,
    /// 0x6 SETTINGS_MAX_HEADER_LIST_SIZE (advisory).
    MaxHeaderListSize,
    /// 0x8 SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): 0 or 1.
    EnableConnectProtocol,
    /// 0x9 SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218): 0 or 1.
    NoRfc7540Priorities,
    /// Any other identifier; RFC 9113 §6.5.2 says to ignore it.
    Unknown(u16),
}

impl SettingId {
    /// The identifiers [`Settings`] knows, in wire order.
    pub const KNOWN: [SettingId; 8] = [
        SettingId::HeaderTableSize,
        SettingId::EnablePush,
        SettingId::MaxConcurrentStreams,
        SettingId::InitialWindowSize,
        SettingId::MaxFrameSize,
        SettingId::MaxHeaderListSize,
        SettingId::EnableConnectProtocol,
        SettingId::NoRfc7540Priorities,
    ];

    /// The identifier for a 16-bit wire value.
    pub const fn from_u16(value: u16) -> SettingId {
        match value {
            0x1 => SettingId::HeaderTableSize,
            0x2 => SettingId::EnablePush,
            0x3 => SettingId::MaxConcurrentStreams,
            0x4 => SettingId::InitialWindowSize,
            0x5 => SettingId::MaxFrameSize,
            0x6 => SettingId::MaxHeaderListSize,
            0x8 => SettingId::EnableConnectProtocol,
            0x9 => SettingId::NoRfc7540Priorities,
            other => SettingId::Unknown(other),
        }
    }

    /// The 16-bit wire value.
    pub const fn as_u16(self) -> u16 {
        match self {
            SettingId::HeaderTableSize => 0x1,
            SettingId::EnablePush => 0x2,
            SettingId::MaxConcurrentStreams => 0x3,
            SettingId::InitialWindowSize => 0x4,
            SettingId::MaxFrameSize => 0x5,
            SettingId::MaxHeaderListSize => 0x6,
            SettingId::EnableConnectProtocol => 0x8,
            SettingId::NoRfc7540Priorities => 0x9,
            SettingId::Unknown(v) => v,
        }
    }
}

/// One SETTINGS entry: identifier and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Setting {
    /// The parameter.
    pub id: SettingId,
    /// Its value.
    pub value: u32,
}

impl Setting {
    /// A new entry.
    pub const fn new(id: SettingId, value: u32) -> Setting {
        Setting { id, value }
    }

    /// Checks the value's range (RFC 9113 §6.5.2; RFC 8441 §3; RFC 9218 §2.1). Every range
    /// violation is a connection error: FLOW_CONTROL_ERROR for an initial window above
    /// 2^31-1, PROTOCOL_ERROR otherwise. Unknown identifiers are always valid.
    pub fn validate(&self) -> Result<(), FrameError> {
        let code = match self.id {
            SettingId::EnablePush
            | SettingId::EnableConnectProtocol
            | SettingId::NoRfc7540Priorities
                if self.value > 1 =>
            {
                ErrorCode::ProtocolError
            }
            SettingId::InitialWindowSize if self.value > MAX_WINDOW_SIZE => {
                ErrorCode::FlowControlError
            }
            SettingId::MaxFrameSize
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&self.value) =>
            {
                ErrorCode::ProtocolError
            }
            _ => return Ok(()),
        };
        Err(FrameError::connection(
            code,
            Violation::InvalidSetting {
                id: self.id.as_u16(),
                value: self.value,
            },
        ))
    }

    fn to_bytes(self) -> [u8; ENTRY_LEN] {
        let i = self.id.as_u16().to_be_bytes();
        let v = self.value.to_be_bytes();
        [i[0], i[1], v[0], v[1], v[2], v[3]]
    }

    fn check_for_encode(&self) -> Result<(), EncodeError> {
        self.validate().map_err(|_| EncodeError::InvalidSetting {
            id: self.id.as_u16(),
            value: self.value,
        })
    }
}

/// A decoded SETTINGS frame (RFC 9113 §6.5). It borrows its payload; every entry has been
/// validated, so [`SettingsFrame::iter`] yields only in-range values (unknown identifiers
/// included — [`Settings::apply`] ignores them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SettingsFrame<'a> {
    ack: bool,
    payload: &'a [u8],
}

impl<'a> SettingsFrame<'a> {
    /// A SETTINGS frame with the ACK flag (§6.5.3).
    pub const ACK: SettingsFrame<'static> = SettingsFrame {
        ack: true,
        payload: &[],
    };

    /// Validates a SETTINGS payload: ACK frames must be empty and others a multiple of 6
    /// bytes (FRAME_SIZE_ERROR), with every value in range (§6.5.2). All are connection
    /// errors. The stream identifier is checked by the frame decoder.
    pub fn parse(ack: bool, payload: &'a [u8]) -> Result<SettingsFrame<'a>, FrameError> {
        if ack && !payload.is_empty() {
            return Err(FrameError::connection(
                ErrorCode::FrameSizeError,
                Violation::SettingsAckWithPayload,
            ));
        }
        if !payload.len().is_multiple_of(ENTRY_LEN) {
            return Err(FrameError::connection(
                ErrorCode::FrameSizeError,
                Violation::SettingsLength,
            ));
        }
        let frame = SettingsFrame { ack, payload };
        for setting in frame.iter() {
            setting.validate()?;
        }
        Ok(frame)
    }

    /// True for an acknowledgement.
    pub const fn is_ack(&self) -> bool {
        self.ack
    }

    /// The raw payload (a multiple of 6 bytes).
    pub const fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Number of entries.
    pub const fn len(&self) -> usize {
        self.payload.len() / ENTRY_LEN
    }

    /// True if the frame carries no entries.
    pub const fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The entries in wire order (they must be processed in this order, §6.5.3).
    pub fn iter(&self) -> SettingsIter<'a> {
        SettingsIter {
            chunks: self.payload.chunks_exact(ENTRY_LEN),
        }
    }

    /// Appends the frame to `dst`, payload as received.
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        check_payload_len(self.payload.len())?;
        put_header(
            dst,
            self.payload.len(),
            FrameKind::Settings,
            Flags::EMPTY.with(Flags::ACK, self.ack),
            0,
        );
        dst.extend_from_slice(self.payload);
        Ok(())
    }
}

impl<'a> IntoIterator for &SettingsFrame<'a> {
    type Item = Setting;
    type IntoIter = SettingsIter<'a>;
    fn into_iter(self) -> SettingsIter<'a> {
        self.iter()
    }
}

/// Iterator over the entries of a [`SettingsFrame`].
#[derive(Debug, Clone)]
pub struct SettingsIter<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for SettingsIter<'_> {
    type Item = Setting;

    fn next(&mut self) -> Option<Setting> {
        let c = self.chunks.next()?;
        Some(Setting {
            id: SettingId::from_u16(u16::from_be_bytes([c[0], c[1]])),
            value: u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for SettingsIter<'_> {}

/// Appends a SETTINGS frame carrying `entries` (in order) to `dst`. Values are checked
/// against their ranges first, so no frame the peer must reject is ever written.
pub fn encode_settings(dst: &mut Vec<u8>, entries: &[Setting]) -> Result<(), EncodeError> {
    for e in entries {
        e.check_for_encode()?;
    }
    let len = entries.len().saturating_mul(ENTRY_LEN);
    check_payload_len(len)?;
    put_header(dst, len, FrameKind::Settings, Flags::EMPTY, 0);
    for e in entries {
        dst.extend_from_slice(&e.to_bytes());
    }
    Ok(())
}

/// Appends a SETTINGS frame with the ACK flag and no payload (§6.5.3).
pub fn encode_settings_ack(dst: &mut Vec<u8>) {
    put_header(dst, 0, FrameKind::Settings, Flags::ACK, 0);
}

/// One endpoint's settings (RFC 9113 §6.5.2, plus RFC 8441 and RFC 9218), starting at the
/// RFC defaults. Keep one for each side of a connection: apply the peer's SETTINGS frames to
/// the peer's copy, and [`Settings::diff`] against the copy from before to learn what
/// changed (e.g. the initial window size, which adjusts every stream window, §6.9.2).
///
/// ```
/// use shockwave_http2_frames::{Settings, SettingId, Setting};
/// let mut ours = Settings::default();
/// ours.enable_push = false;
/// ours.initial_window_size = 1 << 20;
/// let mut buf = Vec::new();
/// ours.encode(&mut buf).unwrap(); // only the two values that differ from the defaults
/// assert_eq!(buf.len(), 9 + 2 * 6);
/// let diff = ours.diff(&Settings::default());
/// assert_eq!(diff.as_slice(), &[
///     Setting::new(SettingId::EnablePush, 0),
///     Setting::new(SettingId::InitialWindowSize, 1 << 20),
/// ]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE (default 4096).
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH (default true).
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (default `None`: unlimited).
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (default 65,535; at most 2^31-1).
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE (default 16,384; 2^14..=2^24-1).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (default `None`: unlimited).
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 (default false).
    pub enable_connect_protocol: bool,
    /// SETTINGS_NO_RFC7540_PRIORITIES, RFC 9218 (default false).
    pub no_rfc7540_priorities: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

impl Settings {
    /// The RFC defaults (what a peer assumes before any SETTINGS frame).
    pub const DEFAULT: Settings = Settings {
        header_table_size: DEFAULT_HEADER_TABLE_SIZE,
        enable_push: true,
        max_concurrent_streams: None,
        initial_window_size: DEFAULT_INITIAL_WINDOW_SIZE,
        max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        max_header_list_size: None,
        enable_connect_protocol: false,
        no_rfc7540_priorities: false,
    };

    /// The value this parameter has on the wire, `None` for "unlimited" (never sent) and for
    /// unknown identifiers.
    pub fn get(&self, id: SettingId) -> Option<u32> {
        match id {
            SettingId::HeaderTableSize => Some(self.header_table_size),
            SettingId::EnablePush => Some(self.enable_push as u32),
            SettingId::MaxConcurrentStreams => self.max_concurrent_streams,
            SettingId::InitialWindowSize => Some(self.initial_window_size),
            SettingId::MaxFrameSize => Some(self.max_frame_size),
            SettingId::MaxHeaderListSize => self.max_header_list_size,
            SettingId::EnableConnectProtocol => Some(self.enable_connect_protocol as u32),
            SettingId::NoRfc7540Priorities => Some(self.no_rfc7540_priorities as u32),
            SettingId::Unknown(_) => None,
        }
    }

    /// Applies one entry after checking its range ([`Setting::validate`]). Unknown
    /// identifiers are ignored (§6.5.2).
    pub fn set(&mut self, setting: Setting) -> Result<(), FrameError> {
        setting.validate()?;
        let v = setting.value;
        match setting.id {
            SettingId::HeaderTableSize => self.header_table_size = v,
            SettingId::EnablePush => self.enable_push = v == 1,
            SettingId::MaxConcurrentStreams => self.max_concurrent_streams = Some(v),
            SettingId::InitialWindowSize => self.initial_window_size = v,
            SettingId::MaxFrameSize => self.max_frame_size = v,
            SettingId::MaxHeaderListSize => self.max_header_list_size = Some(v),
            SettingId::EnableConnectProtocol => self.enable_connect_protocol = v == 1,
            SettingId::NoRfc7540Priorities => self.no_rfc7540_priorities = v == 1,
            SettingId::Unknown(_) => {}
        }
        Ok(())
    }

    /// Applies a received SETTINGS frame, entries in order (§6.5.3). An ACK changes
    /// nothing. On error the entries before the bad one stay applied — the error is a
    /// connection error, so the state no longer matters.
    pub fn apply(&mut self, frame: &SettingsFrame<'_>) -> Result<(), FrameError> {
        for setting in frame.iter() {
            self.set(setting)?;
        }
        Ok(())
    }

    /// Settings from a raw SETTINGS payload (e.g. a decoded `HTTP2-Settings` header of an
    /// h2c upgrade), applied on top of the defaults.
    pub fn from_payload(payload: &[u8]) -> Result<Settings, FrameError> {
        let frame = SettingsFrame::parse(false, payload)?;
        let mut s = Settings::DEFAULT;
        s.apply(&frame)?;
        Ok(s)
    }

    /// The entries of `self` whose values differ from `other`, in identifier order. A
    /// parameter that is limited in `other` but unlimited (`None`) in `self` appears with
    /// the value `u32::MAX`, the closest the wire can express.
    pub fn diff(&self, other: &Settings) -> SettingsDiff {
        let mut diff = SettingsDiff::EMPTY;
        for id in SettingId::KNOWN {
            let (mine, theirs) = (self.get(id), other.get(id));
            if mine != theirs {
                diff.entries[diff.len] = Setting::new(id, mine.unwrap_or(u32::MAX));
                diff.len += 1;
            }
        }
        diff
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<(), FrameError> {
        for id in SettingId::KNOWN {
            if let Some(value) = self.get(id) {
                Setting::new(id, value).validate()?;
            }
        }
        Ok(())
    }

    /// Appends a SETTINGS frame carrying the values that differ from the RFC defaults
    /// (possibly none: an empty SETTINGS frame, as the connection preface needs, §3.4).
    pub fn encode(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode_diff(&Settings::DEFAULT, dst)
    }

    /// Appends a SETTINGS frame carrying the values that differ from `base` (what the peer
    /// already knows).
    pub fn encode_diff(&self, base: &Settings, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_settings(dst, self.diff(base).as_slice())
    }

    /// Appends only the SETTINGS payload (entries that differ from the defaults), as the
    /// `HTTP2-Settings` header of an h2c upgrade carries it (RFC 7540 §3.2.1).
    pub fn encode_payload(&self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        let diff = self.diff(&Settings::DEFAULT);
        for e in diff.iter() {
            e.check_for_encode()?;
        }
        for e in diff.iter() {
            dst.extend_from_slice(&e.to_bytes());
        }
        Ok(())
    }
}

/// The result of [`Settings::diff`]: up to 8 entries, stored inline (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SettingsDiff {
    entries: [Setting; 8],
    len: usize,
}

impl SettingsDiff {
    const EMPTY: SettingsDiff = SettingsDiff {
        entries: [Setting::new(SettingId::HeaderTableSize, 0); 8],
        len: 0,
    };

    /// The entries, in identifier order.
    pub fn as_slice(&self) -> &[Setting] {
        &self.entries[..self.len]
    }

    /// Iterator over the entries.
    pub fn iter(&self) -> std::slice::Iter<'_, Setting> {
        self.as_slice().iter()
    }

    /// Number of differing parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing differs.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The new value of `id`, if it changed.
    pub fn get(&self, id: SettingId) -> Option<u32> {
        self.iter().find(|s| s.id == id).map(|s| s.value)
    }
}

impl<'d> IntoIterator for &'d SettingsDiff {
    type Item = &'d Setting;
    type IntoIter = std::slice::Iter<'d, Setting>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
