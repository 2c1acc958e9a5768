//! Objects only where the API's schema says object. serde's derived `Deserialize` for a
//! struct also takes a JSON array of its fields in order (`"notifications": []` read as all
//! defaults), which the OpenAPI document does not allow and a client never means; these
//! read the value as a JSON object first, so an array is refused naming what was expected.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A struct that must arrive as a JSON object (`#[serde(deserialize_with = "object")]`).
/// The map is handed on as it is read, so an error inside keeps its path.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct Object<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(Object(PhantomData))
}

/// A list whose items must each arrive as a JSON object.
pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    struct Item<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Item<T> {
        type Value = T;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            object(d)
        }
    }
    struct Objects<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Objects<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element_seed(Item(PhantomData))? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Objects(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::super::policy::Policy;

    #[test]
    fn arrays_for_objects_are_refused_and_objects_are_read() {
        let ok: Policy = serde_json::from_str(
            r#"{"default_offer_days": 5, "members_can_accept": true, "notifications": {"offer_answers": false},
                "auto_accept": [{"organization": "acme", "interface": "acme-1a"}]}"#,
        )
        .unwrap();
        assert!(!ok.notifications.offer_answers && ok.notifications.channel_down);
        assert_eq!(ok.auto_accept.len(), 1);
        for bad in [
            r#"{"default_offer_days": 5, "members_can_accept": true, "notifications": []}"#,
            r#"{"default_offer_days": 5, "members_can_accept": true, "auto_accept": [["acme", "acme-1a"]]}"#,
        ] {
            let e = serde_json::from_str::<Policy>(bad).unwrap_err().to_string();
            assert!(e.contains("expected an object"), "{bad}: {e}");
        }
        // Unknown fields inside are still refused.
        let e = serde_json::from_str::<Policy>(
            r#"{"default_offer_days": 5, "members_can_accept": true, "notifications": {"colour": 1}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }
}
