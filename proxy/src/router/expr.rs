//! The rule syntax of Traefik 2 and 3: matcher calls with quoted arguments
//! combined by `&&`, `||`, `!` and parentheses, e.g.
//! ``Host(`cam.example.com`) && (PathPrefix(`/zumi01`) || Method(`POST`))``.
//!
//! Arguments are Go string literals, as Traefik's parser takes them:
//! backquoted (raw) or double-quoted (with `\"`, `\\`, `\n`, `\t` and `\xHH`
//! escapes). `&&` binds tighter than `||`; `!` tighter than both. Nesting
//! is bounded so that a hostile rule cannot exhaust the stack. Errors say
//! at which character of the rule they are (1-based).

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Call {
        name: String,
        args: Vec<String>,
        /// 1-based character position of the name, for errors.
        at: usize,
    },
}

/// Deeper nesting than any sane rule; bounds the parser's recursion.
const MAX_DEPTH: usize = 64;

pub(super) fn parse(rule: &str) -> Result<Expr, String> {
    let tokens = tokenize(rule)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: rule.chars().count() + 1,
    };
    if parser.tokens.is_empty() {
        return Err("empty rule".to_string());
    }
    let expr = parser.or()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((token, at)) => Err(format!(
            "at character {at}: unexpected {}; expected && or || between matchers",
            token.describe()
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    Open,
    Close,
    Comma,
    And,
    Or,
    Not,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("{name:?}"),
            Token::Str(s) => format!("string {s:?}"),
            Token::Open => "\"(\"".to_string(),
            Token::Close => "\")\"".to_string(),
            Token::Comma => "\",\"".to_string(),
            Token::And => "\"&&\"".to_string(),
            Token::Or => "\"||\"".to_string(),
            Token::Not => "\"!\"".to_string(),
        }
    }
}

/// Tokens with the 1-based character position each starts at.
fn tokenize(rule: &str) -> Result<Vec<(Token, usize)>, String> {
    let chars: Vec<char> = rule.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        let pair = |second: char| chars.get(i + 1) == Some(&second);
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '!' => Token::Not,
            '&' if pair('&') => {
                i += 1;
                Token::And
            }
            '|' if pair('|') => {
                i += 1;
                Token::Or
            }
            '&' | '|' => {
                return Err(format!(
                    "at character {at}: \"{c}\" alone; write {c}{c} (Traefik 2/3 rule syntax)"
                ))
            }
            '`' => {
                let Some(len) = chars[i + 1..].iter().position(|&c| c == '`') else {
                    return Err(format!("at character {at}: unterminated `string`"));
                };
                let s: String = chars[i + 1..i + 1 + len].iter().collect();
                i += len + 1;
                Token::Str(s)
            }
            '"' => {
                let (s, used) =
                    quoted(&chars[i + 1..]).map_err(|why| format!("at character {at}: {why}"))?;
                i += used;
                Token::Str(s)
            }
            c if c.is_ascii_alphabetic() => {
                let len = chars[i..]
                    .iter()
                    .position(|c| !c.is_ascii_alphanumeric())
                    .unwrap_or(chars.len() - i);
                let name: String = chars[i..i + len].iter().collect();
                i += len - 1;
                Token::Ident(name)
            }
            ':' => {
                return Err(format!(
                    "at character {at}: \":\" is Traefik 1.7's syntax (Matcher:value); \
                     Traefik 2/3 rules call matchers: PathPrefix(`/app`)"
                ))
            }
            other => return Err(format!("at character {at}: unexpected {other:?}")),
        };
        tokens.push((token, at));
        i += 1;
    }
    Ok(tokens)
}

/// A double-quoted string's content after the opening quote: the decoded
/// string and how many characters it took, the closing quote included.
fn quoted(chars: &[char]) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let escaped = chars.get(i + 1).copied();
                match escaped {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('x') => {
                        let hex: String = chars.get(i + 2..i + 4).unwrap_or(&[]).iter().collect();
                        let byte = u8::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == 2)
                            .ok_or("\\x needs two hex digits")?;
                        out.push(char::from(byte));
                        i += 2;
                    }
                    Some(other) => return Err(format!("unknown escape \\{other}")),
                    None => break,
                }
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated \"string\"".to_string())
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    depth: usize,
    /// The position just past the rule, for "unexpected end" errors.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn next(&mut self) -> Option<(Token, usize)> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn unexpected(&self, expected: &str) -> String {
        match self.tokens.get(self.pos) {
            Some((token, at)) => format!(
                "at character {at}: expected {expected}, found {}",
                token.describe()
            ),
            None => format!("at character {}: rule ends; expected {expected}", self.end),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut alternatives = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            alternatives.push(self.and()?);
        }
        Ok(match alternatives.len() {
            1 => alternatives.remove(0),
            _ => Expr::Any(alternatives),
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut all = vec![self.unary()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            all.push(self.unary()?);
        }
        Ok(match all.len() {
            1 => all.remove(0),
            _ => Expr::All(all),
        })
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "at character {}: nested more than {MAX_DEPTH} deep",
                self.at()
            ));
        }
        let expr = match self.peek() {
            Some(Token::Not) => {
                self.pos += 1;
                Expr::Not(Box::new(self.unary()?))
            }
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(self.unexpected("\")\""));
                }
                self.pos += 1;
                inner
            }
            Some(Token::Ident(_)) => self.call()?,
            _ => return Err(self.unexpected("a matcher such as Host(`example.com`)")),
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn call(&mut self) -> Result<Expr, String> {
        let Some((Token::Ident(name), at)) = self.next() else {
            unreachable!("call() follows a peeked identifier");
        };
        if self.peek() != Some(&Token::Open) {
            return Err(self.unexpected(&format!("\"(\" after {name}")));
        }
        self.pos += 1;
        let mut args = Vec::new();
        loop {
            match self.next() {
                Some((Token::Str(s), _)) => args.push(s),
                Some((Token::Close, _)) if args.is_empty() => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("a quoted argument such as `value`"));
                }
            }
            match self.next() {
                Some((Token::Comma, _)) => continue,
                Some((Token::Close, _)) => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("\",\" or \")\""));
                }
            }
        }
        Ok(Expr::Call { name, args, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str], at: usize) -> Expr {
        Expr::Call {
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            at,
        }
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(
            parse("Host(`a`) && PathPrefix(`/x`) || Method(`POST`)").unwrap(),
            Expr::Any(vec![
                Expr::All(vec![
                    call("Host", &["a"], 1),
                    call("PathPrefix", &["/x"], 14)
                ]),
                call("Method", &["POST"], 34),
            ])
        );
        assert_eq!(
            parse("Host(`a`)&&(Path(`/x`)||!Path(`/y`))").unwrap(),
            Expr::All(vec![
                call("Host", &["a"], 1),
                Expr::Any(vec![
                    call("Path", &["/x"], 13),
                    Expr::Not(Box::new(call("Path", &["/y"], 26))),
                ]),
            ])
        );
        assert_eq!(
            parse(r#"Host("a.com", `b.com`)"#).unwrap(),
            call("Host", &["a.com", "b.com"], 1)
        );
        assert_eq!(
            parse(r#"Header("X-A", "q\"uo\\te\x41")"#).unwrap(),
            call("Header", &["X-A", "q\"uo\\teA"], 1)
        );
    }

    #[test]
    fn errors_say_where() {
        let err = |rule: &str| parse(rule).unwrap_err();
        assert_eq!(err(""), "empty rule");
        assert_eq!(err("   "), "empty rule");
        assert!(
            err("PathPrefix:/x").contains("Traefik 1.7's syntax"),
            "{}",
            err("PathPrefix:/x")
        );
        assert_eq!(
            err("Host(`a`"),
            "at character 9: rule ends; expected \",\" or \")\""
        );
        assert_eq!(
            err("Host(`a`) Path(`/`)"),
            "at character 11: unexpected \"Path\"; expected && or || between matchers"
        );
        assert!(err("Host(`a`) & Path(`/`)").contains("at character 11"));
        // A quote left open swallows the rest up to the next one.
        assert_eq!(
            err("Host(`a) && Path(`/`)"),
            "at character 19: unexpected '/'"
        );
        assert!(err("Host(`a`").contains("rule ends"));
        assert!(err("Host(a)").contains("expected a quoted argument"));
        assert!(err("Host(`a`,)").contains("expected a quoted argument"));
        assert!(err("Host").contains("\"(\" after Host"));
        assert!(err("(Host(`a`)").contains("expected \")\""));
        assert!(err("Host(`a`) &&").contains("rule ends; expected a matcher"));
        assert!(err("\"unterminated").contains("unterminated"));
        assert!(err("`unterminated").contains("unterminated"));
        assert!(err(r#"Host("\q")"#).contains("unknown escape"));
        assert!(err("Host(`é`) ~").contains("at character 11"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}Host(`a`){}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).unwrap_err().contains("nested more than 64"));
        let nots = format!("{}Host(`a`)", "!".repeat(10_000));
        assert!(parse(&nots).unwrap_err().contains("nested more than 64"));
        let fine = format!("{}Host(`a`){}", "(".repeat(30), ")".repeat(30));
        assert_eq!(parse(&fine).unwrap(), call("Host", &["a"], 31));
    }
}
