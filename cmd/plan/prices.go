package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
)

// pricesJSON holds every unit price the estimate uses, with the date and region they were taken
// for, in one file: updating a price is an edit there, never in the code.
//
//go:embed prices.json
var pricesJSON []byte

// Prices are AWS list prices in US dollars.
type Prices struct {
	Region        string  `json:"region"`
	Date          string  `json:"date"`
	HoursPerMonth float64 `json:"hoursPerMonth"`
	Lambda        struct {
		RequestsPerMillion          float64 `json:"requestsPerMillion"`
		GBSecond                    []Tier  `json:"arm64GBSecond"`
		ProvisionedGBSecond         float64 `json:"arm64ProvisionedGBSecond"`
		ProvisionedDurationGBSecond float64 `json:"arm64ProvisionedDurationGBSecond"`
	} `json:"lambda"`
	APIGateway struct {
		RequestsPerMillion []Tier `json:"requestsPerMillion"`
	} `json:"apiGatewayRest"`
	Aurora struct {
		ACUHour        float64 `json:"acuHour"`
		StorageGBMonth float64 `json:"storageGBMonth"`
	} `json:"auroraServerlessV2"`
	Proxy struct {
		ACUHour     float64 `json:"acuHour"`
		MinimumACUs float64 `json:"minimumACUs"`
	} `json:"rdsProxy"`
	Cache struct {
		ECPUsPerMillion float64 `json:"ecpusPerMillion"`
		GBHour          float64 `json:"gbHour"`
		MinimumGB       float64 `json:"minimumGB"`
	} `json:"elastiCacheServerlessValkey"`
	Secrets struct {
		SecretMonth float64 `json:"secretMonth"`
	} `json:"secretsManager"`
	Endpoint struct {
		AZHour float64 `json:"azHour"`
	} `json:"vpcInterfaceEndpoint"`
}

// Tier is one step of a volume-priced dimension: USD per unit for the monthly usage up to UpTo
// (cumulative, in the same unit as the usage), the last tier without UpTo.
type Tier struct {
	UpTo float64 `json:"upTo"`
	USD  float64 `json:"usd"`
}

func loadPrices() (*Prices, error) {
	var p Prices
	if err := json.Unmarshal(pricesJSON, &p); err != nil {
		return nil, fmt.Errorf("prices.json: %w", err)
	}
	for name, tiers := range map[string][]Tier{"lambda.arm64GBSecond": p.Lambda.GBSecond, "apiGatewayRest.requestsPerMillion": p.APIGateway.RequestsPerMillion} {
		if len(tiers) == 0 || tiers[len(tiers)-1].UpTo != 0 {
			return nil, fmt.Errorf("prices.json: %s must end with a tier without upTo", name)
		}
	}
	if p.HoursPerMonth <= 0 || p.Date == "" || p.Region == "" {
		return nil, fmt.Errorf("prices.json: hoursPerMonth, date and region are required")
	}
	return &p, nil
}

// tiered prices a month's usage of a volume-tiered dimension; per is the units one tier price
// is for (1e6 for a price per million requests, 1 for a price per GB-second).
func tiered(usage float64, tiers []Tier, per float64) float64 {
	var cost, below float64
	for _, t := range tiers {
		top := t.UpTo
		if top == 0 {
			top = math.Inf(1)
		}
		in := math.Min(usage, top) - below
		if in <= 0 {
			break
		}
		cost += in / per * t.USD
		below = top
	}
	return cost
}
