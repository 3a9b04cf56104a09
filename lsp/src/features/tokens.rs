//! Semantic tokens: keywords, literals, comments, and each name coloured by what it names.

use crate::state::Snapshot;
use pw_compiler::lexer::{self, Token};
use pw_compiler::symbols::SymbolKind;
use pw_compiler::{FileId, Span};
use std::collections::HashMap;
use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
};

const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::COMMENT,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::CLASS,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::TYPE,
    SemanticTokenType::STRUCT,
    SemanticTokenType::MACRO,
];

/// The legend's token types, in its order.
#[derive(Clone, Copy)]
enum Kind {
    Keyword,
    String,
    Number,
    Comment,
    Namespace,
    Class,
    Function,
    Variable,
    Parameter,
    Property,
    EnumMember,
    Type,
    Struct,
    Macro,
}

const DECLARATION: u32 = 1;

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend { token_types: TYPES.to_vec(), token_modifiers: vec![SemanticTokenModifier::DECLARATION] }
}

fn symbol_type(kind: SymbolKind) -> Kind {
    match kind {
        SymbolKind::Material => Kind::Struct,
        SymbolKind::Pipeline => Kind::Namespace,
        SymbolKind::Stage => Kind::Class,
        SymbolKind::Job => Kind::Function,
        SymbolKind::Artifact | SymbolKind::EnvVar => Kind::Variable,
        SymbolKind::Template => Kind::Macro,
        SymbolKind::Param | SymbolKind::ForVar => Kind::Parameter,
    }
}

/// The tokens of `file`, or of the part of it within `range`.
pub fn semantic_tokens(snap: &Snapshot, file: FileId, range: Option<Span>) -> SemanticTokens {
    let text = snap.text(file);
    let names = names(snap, file);
    let lexed = lexer::lex(file, text);
    let mut spans: Vec<(Span, Kind, u32)> = Vec::new();
    for (i, &(token, span)) in lexed.tokens.iter().enumerate() {
        let next = lexed.tokens.get(i + 1).map(|t| t.0);
        let prev = i.checked_sub(1).map(|j| lexed.tokens[j].0);
        let ty = match token {
            t if t.is_keyword() => Kind::Keyword,
            Token::Str(_) | Token::TripleStr(_) | Token::UnterminatedStr(_) => {
                strings(text, span, &mut spans);
                continue;
            }
            Token::Int(_) | Token::Duration(_) => Kind::Number,
            Token::Ident(_) => match names.get(&span.start) {
                Some(&(kind, declaration)) => {
                    spans.push((span, symbol_type(kind), if declaration { DECLARATION } else { 0 }));
                    continue;
                }
                None if next == Some(Token::Eq) => Kind::Property,
                None if prev == Some(Token::Colon) => Kind::Type,
                None if next == Some(Token::LParen) => Kind::Macro,
                None => Kind::EnumMember,
            },
            _ => continue,
        };
        spans.push((span, ty, 0));
    }
    spans.extend(lexed.comments.iter().map(|&(_, s)| (s, Kind::Comment, 0)));
    spans.sort_by_key(|(s, _, _)| s.start);
    if let Some(range) = range {
        spans.retain(|(s, _, _)| s.end >= range.start && s.start <= range.end);
    }
    SemanticTokens { result_id: None, data: encode(snap, file, &spans) }
}

/// The names the checker resolved in `file`, by start offset: what they name, and whether
/// this is the definition.
fn names(snap: &Snapshot, file: FileId) -> HashMap<usize, (SymbolKind, bool)> {
    let table = &snap.analysis.program.symbols;
    let mut out = HashMap::new();
    for r in table.references.iter().filter(|r| r.file == file) {
        out.insert(r.span.start, (table.get(r.target).kind, false));
    }
    for s in table.symbols.iter().filter(|s| s.file == file) {
        out.insert(s.name_span.start, (s.kind, true));
    }
    out
}

/// A string, with its `#{name}` interpolations as parameters.
fn strings(text: &str, span: Span, out: &mut Vec<(Span, Kind, u32)>) {
    let body = &text[span.range()];
    let bytes = body.as_bytes();
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'#' if bytes.get(i + 1) == Some(&b'{') => {
                let Some(close) = body[i..].find('}').map(|c| i + c + 1) else { break };
                out.push((Span::new(span.start + from, span.start + i), Kind::String, 0));
                out.push((Span::new(span.start + i, span.start + close), Kind::Parameter, 0));
                from = close;
                i = close;
            }
            _ => i += 1,
        }
    }
    out.push((Span::new(span.start + from, span.end), Kind::String, 0));
}

/// Relative encoding, one token per line (multi-line strings are split at line breaks).
fn encode(snap: &Snapshot, file: FileId, spans: &[(Span, Kind, u32)]) -> Vec<SemanticToken> {
    let source = snap.source(file);
    let (mut last_line, mut last_col) = (0u32, 0u32);
    let mut data = Vec::with_capacity(spans.len());
    for &(span, ty, modifiers) in spans {
        let mut start = span.start;
        while start < span.end {
            let line_end = source.text[start..span.end].find('\n').map_or(span.end, |i| start + i);
            if line_end > start {
                let position = snap.encoding.position(source, start);
                let length = snap.encoding.len(&source.text[start..line_end]) as u32;
                let delta_line = position.line - last_line;
                let delta_start = if delta_line == 0 { position.character - last_col } else { position.character };
                data.push(SemanticToken {
                    delta_line,
                    delta_start,
                    length,
                    token_type: ty as u32,
                    token_modifiers_bitset: modifiers,
                });
                (last_line, last_col) = (position.line, position.character);
            }
            start = line_end + 1;
        }
    }
    data
}
