//! Questions about a syntax tree that several features ask: which blocks enclose a position,
//! and which member stands there.

use pw_compiler::ast::{Block, BlockKind, Body, File, Member};
use pw_compiler::schema::Owner;

/// The blocks that enclose a position, outermost first, and the member of the innermost one
/// that holds it.
#[derive(Default)]
pub struct Enclosing<'a> {
    pub blocks: Vec<&'a Block>,
    pub member: Option<&'a Member>,
}

impl Enclosing<'_> {
    /// The innermost block's owner of fields (a template counts as what it makes).
    pub fn owner(&self) -> Option<Owner> {
        self.blocks.last().and_then(|b| owner(b))
    }
}

/// The kind of entity whose fields a block holds.
pub fn owner(block: &Block) -> Option<Owner> {
    let kind = match (block.kind, block.template_of) {
        (BlockKind::Template, Some((of, _))) => of,
        (kind, _) => kind,
    };
    match kind {
        BlockKind::Material => Some(Owner::Material),
        BlockKind::Pipeline => Some(Owner::Pipeline),
        BlockKind::Stage => Some(Owner::Stage),
        BlockKind::Job => Some(Owner::Job),
        BlockKind::Env | BlockKind::Template => None,
    }
}

/// What encloses `offset` in `file`.
pub(crate) fn enclosing(file: &File, offset: usize) -> Enclosing<'_> {
    let mut found = Enclosing::default();
    let mut members = file.members.as_slice();
    // Bodies nest at most as deep as the parser allowed; the loop ends when no member holds it.
    while let Some(member) = members.iter().find(|m| m.span().contains(offset)) {
        found.member = Some(member);
        let Member::Block(block) = member else { break };
        match &block.body {
            Body::Members { members: inner, span } if span.start < offset && offset < span.end => {
                found.blocks.push(block);
                found.member = None;
                members = inner;
            }
            _ => break,
        }
    }
    found
}

/// Every block of the file, depth first, with its depth.
pub fn blocks(file: &File) -> Vec<(&Block, usize)> {
    fn walk<'a>(members: &'a [Member], depth: usize, out: &mut Vec<(&'a Block, usize)>) {
        for member in members {
            if let Member::Block(b) = member {
                out.push((b, depth));
                if depth < 64 {
                    walk(b.body.members(), depth + 1, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&file.members, 0, &mut out);
    out
}
