//! The limits async-graphql does not enforce itself (aliases), and a
//! stable `extensions.code` on every error, including its own.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};

use crate::error::Code;

/// The extension factory.
pub struct Limits {
    /// Most aliased fields in one document.
    pub max_aliases: usize,
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension {
            max_aliases: self.max_aliases,
        })
    }
}

struct LimitsExtension {
    max_aliases: usize,
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn with_code(mut e: ServerError, code: Code) -> ServerError {
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    e
}

fn has_code(e: &ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut r = next.run(ctx).await;
        for e in &mut r.errors {
            if !has_code(e) {
                // Argument values that do not parse fail in resolvers (with
                // a path); everything else is the query itself.
                let code = if e.path.is_empty() {
                    Code::BadQuery
                } else {
                    Code::BadInput
                };
                *e = with_code(e.clone(), code);
            }
        }
        r
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, Code::BadQuery))?;
        let mut n: usize = doc
            .operations
            .iter()
            .map(|(_, op)| aliases(&op.node.selection_set.node))
            .sum();
        n += doc
            .fragments
            .values()
            .map(|f| aliases(&f.node.selection_set.node))
            .sum::<usize>();
        if n > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "the query has {n} aliases; at most {} are allowed",
                        self.max_aliases
                    ),
                    None,
                ),
                Code::TooManyAliases,
            ));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = if e.message.contains("nested too deep") {
                        Code::QueryTooDeep
                    } else if e.message.contains("too complex") {
                        Code::QueryTooComplex
                    } else {
                        Code::BadQuery
                    };
                    with_code(e, code)
                })
                .collect()
        })
    }
}
