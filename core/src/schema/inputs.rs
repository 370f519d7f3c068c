//! The objects a mapping reads from while one object is synced.

use serde_json::Value;
use std::fmt;

/// Identifies a child object (e.g. one order position) within the object being synced:
/// one `(model, id)` step per level below the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct ChildKey(pub Vec<(String, String)>);

impl ChildKey {
    /// Whether `self` is `other` or one of its ancestors.
    pub fn is_prefix_of(&self, other: &ChildKey) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The id of the deepest child, if any.
    pub fn leaf_id(&self) -> Option<&str> {
        self.0.last().map(|(_, id)| id.as_str())
    }
}

impl fmt::Display for ChildKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(m, id)| format!("{m} {id}")).collect();
        f.write_str(&parts.join(" / "))
    }
}

/// One input: the object of one model.
#[derive(Debug, Clone)]
pub struct InputObject<'a> {
    /// The model name.
    pub model: &'a str,
    /// The object.
    pub object: &'a Value,
}

/// The inputs of one provider call: the synced object and, for a child mapping, the chain
/// of children down to the current one (root first). Parent fields stay readable in child
/// mappings because the whole chain is present.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    chain: Vec<InputObject<'a>>,
    child: ChildKey,
}

impl<'a> Inputs<'a> {
    /// Inputs for a root object.
    pub fn root(model: &'a str, object: &'a Value) -> Self {
        Self {
            chain: vec![InputObject { model, object }],
            child: ChildKey::default(),
        }
    }

    /// These inputs extended by a child object.
    pub fn with_child(&self, model: &'a str, object: &'a Value, id: String) -> Self {
        let mut chain = self.chain.clone();
        chain.push(InputObject { model, object });
        let mut child = self.child.clone();
        child.0.push((model.to_owned(), id));
        Self { chain, child }
    }

    /// The object of `model`, if it is one of the inputs.
    pub fn get(&self, model: &str) -> Option<&'a Value> {
        self.chain
            .iter()
            .find(|input| input.model == model)
            .map(|input| input.object)
    }

    /// The input at depth `depth` (0 = the synced object).
    pub fn at_depth(&self, depth: usize) -> Option<&'a Value> {
        self.chain.get(depth).map(|input| input.object)
    }

    /// The synced (root) object.
    pub fn root_object(&self) -> &'a Value {
        self.chain[0].object
    }

    /// The deepest input: the child for a child mapping, else the root object.
    pub fn current(&self) -> &InputObject<'a> {
        &self.chain[self.chain.len() - 1]
    }

    /// All inputs, root first.
    pub fn iter(&self) -> impl Iterator<Item = &InputObject<'a>> {
        self.chain.iter()
    }

    /// Which child these inputs are for (empty for the root object).
    pub fn child_key(&self) -> &ChildKey {
        &self.child
    }

    /// The model names present, root first (used in error messages).
    pub fn model_names(&self) -> Vec<&'a str> {
        self.chain.iter().map(|input| input.model).collect()
    }
}
