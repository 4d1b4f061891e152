//! The filters of the listings and prunes above containers: images
//! (`images -f`, `image prune --filter`), volumes (`volume ls -f`,
//! `volume prune --filter`), networks (`network ls -f`) and the `until=`/`label=` of the prunes, on top
//! of `model::filters::FilterArgs`. Container filters live in
//! `model::container_filter`, where `compose ps` finds them too.

pub(crate) mod images;
pub(crate) mod lineage;
pub(crate) mod networks;
pub(crate) mod prune;
pub(crate) mod volumes;
