//! A tiny builder for queries whose shape depends on input (search filters).
//!
//! sqlx's own `QueryBuilder` emits `?` placeholders for the `Any` driver, which
//! PostgreSQL rejects; this one numbers placeholders `$1, $2 …` like the static queries.
//! Only placeholders carry values: the SQL text is assembled from literals in the code.

use sqlx::AssertSqlSafe;
use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

/// A bound value.
#[derive(Debug, Clone)]
pub enum Value {
    I64(i64),
    Text(String),
    /// NULL in an integer column.
    NullI64,
    /// NULL in a text column.
    NullText,
}

impl Value {
    /// An optional integer.
    pub fn opt_i64(v: Option<i64>) -> Value {
        v.map_or(Value::NullI64, Value::I64)
    }

    /// An optional text.
    pub fn opt_text(v: Option<String>) -> Value {
        v.map_or(Value::NullText, Value::Text)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

/// SQL text plus its values, in placeholder order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &'static str) -> Self {
        Sql { text: text.to_string(), values: Vec::new() }
    }

    /// Appends literal SQL from the code (never from input).
    pub fn push(&mut self, text: &'static str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The executable query.
    pub fn query(&self) -> Query<'_, Any, AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text.clone()));
        for v in &self.values {
            q = match v {
                Value::I64(i) => q.bind(*i),
                Value::Text(s) => q.bind(s.clone()),
                Value::NullI64 => q.bind(None::<i64>),
                Value::NullText => q.bind(None::<String>),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders() {
        let mut s = Sql::new("SELECT * FROM t WHERE 1=1");
        s.push(" AND a = ").bind(1).push(" AND b = ").bind("x");
        assert_eq!(s.text(), "SELECT * FROM t WHERE 1=1 AND a = $1 AND b = $2");
    }
}
