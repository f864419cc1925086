package function

import "testing"

// TestSchemaOverride serves another .apsorc (SCALEAPI_SCHEMA), as make run SCHEMA=… does.
func TestSchemaOverride(t *testing.T) {
	s, hooks, err := schema("../../../examples/shop/.apsorc")
	if err != nil || hooks != nil {
		t.Fatalf("schema: %v, hooks %v", err, hooks)
	}
	if _, ok := s.Entity("Product"); !ok {
		t.Fatal("the shop's schema has no Product")
	}
	if _, _, err := schema("testdata/missing.apsorc"); err == nil {
		t.Fatal("a missing schema file loads")
	}
}
