//! The Sigma condition language: `and`, `or`, `not`, parentheses,
//! `1 of X*`, `all of X*`, `1 of them`, `all of them`.
//!
//! Parsing gives a [`CondAst`] naming search identifiers; [`resolve`]
//! binds the names to search indices (expanding `of` patterns) so that
//! evaluation never looks names up.

use crate::quote::quote;
use crate::{Fail, FailureKind};

/// Deepest nesting of parentheses and `not` in a condition. SigmaHQ's
/// deepest is 3; every walk of a condition (parsing, binding, compiling,
/// evaluating, dropping) recurses once per level, so the bound keeps
/// them all far from the end of a 2 MiB thread stack.
pub(crate) const MAX_CONDITION_DEPTH: usize = 64;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CondAst {
    Id(String),
    Not(Box<CondAst>),
    And(Vec<CondAst>),
    Or(Vec<CondAst>),
    /// `N of pattern` / `all of pattern`; `pattern` `None` is `them`.
    Of {
        quant: Quant,
        pattern: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quant {
    All,
    AtLeast(usize),
}

/// A resolved condition over search identifier indices.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Search(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    AtLeast(usize, Vec<Expr>),
    /// A test against the event's logsource (variant conditions); index
    /// into the rule's logsource checks.
    Source(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    Them,
    All,
    Num(usize),
    Ident(String),
}

fn tokenize(s: &str) -> Result<Vec<Token>, Fail> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if word.is_empty() {
            return;
        }
        let w = std::mem::take(word);
        let t = match w.to_ascii_lowercase().as_str() {
            "and" => Token::And,
            "or" => Token::Or,
            "not" => Token::Not,
            "of" => Token::Of,
            "them" => Token::Them,
            "all" => Token::All,
            "any" => Token::Num(1),
            _ => match w.parse::<usize>() {
                Ok(n) => Token::Num(n),
                Err(_) => Token::Ident(w),
            },
        };
        out.push(t);
    };
    for c in s.chars() {
        match c {
            '(' | ')' => {
                flush(&mut word, &mut out);
                out.push(if c == '(' {
                    Token::LParen
                } else {
                    Token::RParen
                });
            }
            '|' => return Err(
                "aggregation expression ('|') in condition: obsolete since Sigma 2.0, use a correlation rule"
                    .into(),
            ),
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    Ok(out)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn deeper(depth: usize) -> Result<usize, Fail> {
        if depth >= MAX_CONDITION_DEPTH {
            return Err(Fail::new(
                FailureKind::TooDeep,
                format!("condition nested deeper than {MAX_CONDITION_DEPTH} levels (parentheses and 'not')"),
            ));
        }
        Ok(depth + 1)
    }
    fn or(&mut self, depth: usize) -> Result<CondAst, Fail> {
        let mut items = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            CondAst::Or(items)
        })
    }
    fn and(&mut self, depth: usize) -> Result<CondAst, Fail> {
        let mut items = vec![self.not(depth)?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            items.push(self.not(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            CondAst::And(items)
        })
    }
    fn not(&mut self, depth: usize) -> Result<CondAst, Fail> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return Ok(CondAst::Not(Box::new(self.not(Self::deeper(depth)?)?)));
        }
        self.primary(depth)
    }
    fn primary(&mut self, depth: usize) -> Result<CondAst, Fail> {
        match self.next() {
            Some(Token::LParen) => {
                let e = self.or(Self::deeper(depth)?)?;
                match self.next() {
                    Some(Token::RParen) => Ok(e),
                    _ => Err("missing ')'".into()),
                }
            }
            Some(t @ (Token::All | Token::Num(_))) => {
                let quant = match t {
                    Token::Num(0) => return Err("'0 of' is not a valid quantifier".into()),
                    Token::Num(n) => Quant::AtLeast(n),
                    _ => Quant::All,
                };
                if self.next() != Some(Token::Of) {
                    return Err("expected 'of' after quantifier".into());
                }
                match self.next() {
                    Some(Token::Them) => Ok(CondAst::Of {
                        quant,
                        pattern: None,
                    }),
                    Some(Token::Ident(p)) => Ok(CondAst::Of {
                        quant,
                        pattern: Some(p),
                    }),
                    other => Err(format!(
                        "expected 'them' or a pattern after 'of', got {}",
                        token_text(other.as_ref())
                    )
                    .into()),
                }
            }
            Some(Token::Ident(id)) => Ok(CondAst::Id(id)),
            Some(t) => Err(format!("unexpected {}", token_text(Some(&t))).into()),
            None => Err("unexpected end of condition".into()),
        }
    }
}

/// A token for a message (identifiers quoted and bounded).
fn token_text(t: Option<&Token>) -> String {
    match t {
        None => "the end".into(),
        Some(Token::Ident(s)) => format!("Ident({})", quote(s)),
        Some(t) => format!("{t:?}"),
    }
}

/// Parses one condition string.
pub(crate) fn parse_condition(s: &str) -> Result<CondAst, Fail> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or(0)?;
    if let Some(t) = p.peek() {
        return Err(format!(
            "unexpected {} after complete expression",
            token_text(Some(t))
        )
        .into());
    }
    Ok(e)
}

/// `*` wildcard matching of identifier patterns.
fn pattern_matches(pat: &str, name: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(j) => rest = &rest[j + p.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Binds identifiers to indices into `names`.
pub(crate) fn resolve(ast: &CondAst, names: &[String]) -> Result<Expr, String> {
    Ok(match ast {
        CondAst::Id(id) => match names.iter().position(|n| n == id) {
            Some(i) => Expr::Search(i),
            None => {
                return Err(format!(
                    "condition references unknown search identifier {}",
                    quote(id)
                ))
            }
        },
        CondAst::Not(e) => Expr::Not(Box::new(resolve(e, names)?)),
        CondAst::And(v) => Expr::And(
            v.iter()
                .map(|e| resolve(e, names))
                .collect::<Result<_, _>>()?,
        ),
        CondAst::Or(v) => Expr::Or(
            v.iter()
                .map(|e| resolve(e, names))
                .collect::<Result<_, _>>()?,
        ),
        CondAst::Of { quant, pattern } => {
            let items: Vec<Expr> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| match pattern {
                    None => !n.starts_with('_'),
                    Some(p) => pattern_matches(p, n),
                })
                .map(|(i, _)| Expr::Search(i))
                .collect();
            if items.is_empty() {
                return Err(format!(
                    "{} matches no search identifier",
                    quote(&format!("of {}", pattern.as_deref().unwrap_or("them")))
                ));
            }
            match quant {
                Quant::All => Expr::And(items),
                Quant::AtLeast(1) => Expr::Or(items),
                Quant::AtLeast(n) => Expr::AtLeast(*n, items),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_or_and_not() {
        let a = parse_condition("a or b and not c").unwrap();
        assert_eq!(
            a,
            CondAst::Or(vec![
                CondAst::Id("a".into()),
                CondAst::And(vec![
                    CondAst::Id("b".into()),
                    CondAst::Not(Box::new(CondAst::Id("c".into())))
                ])
            ])
        );
        let p = parse_condition("(a or b) and c").unwrap();
        assert!(matches!(p, CondAst::And(_)));
        assert_eq!(
            parse_condition("1 of sel* and not all of filter_*").unwrap(),
            CondAst::And(vec![
                CondAst::Of {
                    quant: Quant::AtLeast(1),
                    pattern: Some("sel*".into())
                },
                CondAst::Not(Box::new(CondAst::Of {
                    quant: Quant::All,
                    pattern: Some("filter_*".into())
                }))
            ])
        );
    }

    #[test]
    fn errors_are_precise() {
        let err = |s: &str| parse_condition(s).unwrap_err().reason;
        assert!(err("a and").contains("end"));
        assert!(err("(a").contains("')'"));
        assert!(err("a b").contains("after complete"));
        assert!(err("sel | count() > 5").contains("correlation"));
        assert!(parse_condition("").is_err());
        let n = names(&["sel"]);
        assert!(resolve(&parse_condition("nope").unwrap(), &n)
            .unwrap_err()
            .contains("unknown search identifier 'nope'"));
        assert!(resolve(&parse_condition("1 of x*").unwrap(), &n).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        for deep in [
            format!("{}sel", "not ".repeat(100_000)),
            format!("{}sel{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}sel{}", "(not ".repeat(50_000), ")".repeat(50_000)),
        ] {
            let e = parse_condition(&deep).unwrap_err();
            assert_eq!(e.kind, FailureKind::TooDeep, "{}", e.reason);
            assert!(e.reason.contains("deeper than 64"), "{}", e.reason);
        }
        let ok = format!("{}sel{}", "(not ".repeat(31), ")".repeat(31));
        assert!(parse_condition(&ok).is_ok());
    }

    #[test]
    fn them_skips_underscore() {
        let n = names(&["sel1", "_hidden", "sel2"]);
        match resolve(&parse_condition("all of them").unwrap(), &n).unwrap() {
            Expr::And(v) => assert_eq!(v.len(), 2),
            e => panic!("{e:?}"),
        }
        match resolve(&parse_condition("1 of *e*").unwrap(), &n).unwrap() {
            Expr::Or(v) => assert_eq!(v.len(), 3),
            e => panic!("{e:?}"),
        }
        assert!(pattern_matches("sel*", "selection"));
        assert!(!pattern_matches("sel*", "filter"));
        assert!(pattern_matches("*_main", "filter_main"));
    }
}
