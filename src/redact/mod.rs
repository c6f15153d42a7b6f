//! Masks secrets in capture records (placeholder; filled in next).
