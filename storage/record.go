package storage

import "workbot/domain"

// EncodeItem and DecodeItem expose the item record codec (see doc.go), so another store can keep the
// same compact copy of an item for fast reads of open work: the PostgreSQL store's items.rec column.
// The format's rules hold there too: fields are only appended, and a change of meaning needs a new
// record version.
func EncodeItem(it domain.Item) []byte { return itemToRecord(it).encode() }

// DecodeItem reads a record written by EncodeItem (or by this package).
func DecodeItem(b []byte) (domain.Item, error) {
	r, err := decodeItem(b)
	if err != nil {
		return domain.Item{}, err
	}
	return r.toDomain(), nil
}
