package function_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"scaleapi/functions/internal/function"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/user"
)

// TestOrganizations builds the function exactly as main does, from environment variables, and drives
// it with API Gateway REST (payload 1.0) events through the Lambda adapter.
func TestOrganizations(t *testing.T) {
	_, d, h := build(t, function.Organizations)

	t.Run("Routes", func(t *testing.T) {
		want := []api.Route{
			{Method: "GET", Path: "/organizations"}, {Method: "POST", Path: "/organizations"},
			{Method: "DELETE", Path: "/organizations/{id}"}, {Method: "GET", Path: "/organizations/{id}"},
			{Method: "PATCH", Path: "/organizations/{id}"},
			{Method: "GET", Path: "/organizations/{id}/members"}, {Method: "POST", Path: "/organizations/{id}/members"},
			{Method: "DELETE", Path: "/organizations/{id}/members/{userId}"},
		}
		if got := h.(*api.Router).Routes(); !slices.Equal(got, want) {
			t.Fatalf("routes %v, want %v", got, want)
		}
	})

	// A user with a live session, made the way the auth function makes them.
	u := &user.User{ID: uuid.Must(uuid.NewV7()), Email: "ada@example.com", Name: "Ada", PasswordHash: "$argon2id$unused"}
	if err := user.NewPG(d.Primary).Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	sid, _, err := d.Sessions.Create(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := d.Tokens.Issue(u.ID, sid)
	if err != nil {
		t.Fatal(err)
	}

	lambda := lambdahttp.New(d.Handler(h))
	invoke := func(method, path, resource, body string) events.APIGatewayProxyResponse {
		t.Helper()
		ev := events.APIGatewayProxyRequest{
			Resource: resource, Path: path, HTTPMethod: method, Body: body,
			Headers: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"},
			RequestContext: events.APIGatewayProxyRequestContext{
				RequestID: uuid.NewString(), Stage: "Prod", HTTPMethod: method, ResourcePath: resource,
				Identity: events.APIGatewayRequestIdentity{SourceIP: "192.0.2.10"},
			},
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		out, err := lambda.Invoke(t.Context(), payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	created := invoke("POST", "/organizations", "/organizations", `{"name":"Acme"}`)
	if created.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", created.StatusCode, created.Body)
	}
	var o struct {
		ID   uuid.UUID `json:"id"`
		Name string    `json:"name"`
	}
	if err := json.Unmarshal([]byte(created.Body), &o); err != nil || o.Name != "Acme" {
		t.Fatalf("created %s (%v)", created.Body, err)
	}
	got := invoke("GET", "/organizations/"+o.ID.String(), "/organizations/{id}", "")
	if got.StatusCode != http.StatusOK || http.Header(got.MultiValueHeaders).Get("ETag") != `"1"` {
		t.Fatalf("GET: %d %v %s", got.StatusCode, got.MultiValueHeaders, got.Body)
	}
	members := invoke("GET", "/organizations/"+o.ID.String()+"/members", "/organizations/{id}/members", "")
	if members.StatusCode != http.StatusOK {
		t.Fatalf("GET members: %d %s", members.StatusCode, members.Body)
	}
	if r := invoke("GET", "/organizations/"+uuid.NewString(), "/organizations/{id}", ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET unknown: %d %s", r.StatusCode, r.Body)
	}
}
