//! NerdGraph client (being written).
