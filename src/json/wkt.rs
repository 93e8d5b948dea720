//! The well-known types: the messages whose JSON form is not an object of
//! their fields, and the names the JSON code treats specially.

pub const ANY: &str = "google.protobuf.Any";
pub const DURATION: &str = "google.protobuf.Duration";
pub const TIMESTAMP: &str = "google.protobuf.Timestamp";
pub const FLOAT_VALUE: &str = "google.protobuf.FloatValue";
pub const DOUBLE_VALUE: &str = "google.protobuf.DoubleValue";
pub const EMPTY: &str = "google.protobuf.Empty";

/// Type URLs of this prefix stand for an empty `Any` while prost-reflect,
/// which insists on a type, reads or prints one. The reader marks `{}` with
/// it and clears the mark after; the printer's filter prints it as `{}`.
pub const EMPTY_ANY_MARK: &str = "rpcurl.invalid/empty-any/";

/// Whether a message of this type has its own JSON form (not an object of
/// its fields), or, for Empty, is one of the types the JSON mapping names.
pub fn is_well_known(name: &str) -> bool {
    matches!(
        name,
        "google.protobuf.Any"
            | "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.Struct"
            | "google.protobuf.FloatValue"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.Int32Value"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.FieldMask"
            | "google.protobuf.ListValue"
            | "google.protobuf.Value"
            | "google.protobuf.Empty"
    )
}
