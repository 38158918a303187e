package main

// The system description's MetricsAgent, written as a Go user would write it with the
// official driver: one client with the described pool, the compound unique index, and an
// unordered BulkWrite of UpdateOne upserts per batch.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Per-call deadline, the same as flowmetrics' default operation_timeout.
const operationTimeout = 30 * time.Second

type Metric struct {
	SourceIP   string
	DestIP     string
	SourcePort int32
	DestPort   int32
	Protocol   string
	Timestamp  time.Time
	Value      float64
}

// FilterMode chooses how an upsert finds its document.
type FilterMode int

const (
	// FilterFields filters on the six key fields and sets the value (the description).
	FilterFields FilterMode = iota
	// FilterID filters on flowmetrics' _id ("src|dst|sport|dport|proto|ms"), sets the six
	// fields on insert and the value always.
	FilterID
)

type MetricsAgent struct {
	client     *mongo.Client
	collection *mongo.Collection
	filter     FilterMode
}

// UpsertStats is what the driver reports for one BulkWrite.
type UpsertStats struct {
	Upserted int64
	Matched  int64
	Modified int64
}

func NewMetricsAgent(uri, database, collection string) (*MetricsAgent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := options.Client().ApplyURI(uri).
		SetMaxPoolSize(150).
		SetMinPoolSize(25).
		SetMaxConnIdleTime(time.Hour)
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping: %w", err)
	}
	return &MetricsAgent{client: client, collection: client.Database(database).Collection(collection)}, nil
}

func (a *MetricsAgent) CreateMetricsIndexes() error {
	ctx, cancel := context.WithTimeout(context.Background(), operationTimeout)
	defer cancel()
	_, err := a.collection.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{
			{Key: "source_ip", Value: 1},
			{Key: "dest_ip", Value: 1},
			{Key: "source_port", Value: 1},
			{Key: "dest_port", Value: 1},
			{Key: "protocol", Value: 1},
			{Key: "timestamp", Value: 1},
		},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	return nil
}

// metricID is flowmetrics' _id scheme: the six canonical fields joined by '|', the
// timestamp as milliseconds since the epoch.
func metricID(m *Metric) string {
	var b strings.Builder
	b.Grow(len(m.SourceIP) + len(m.DestIP) + len(m.Protocol) + 32)
	b.WriteString(m.SourceIP)
	b.WriteByte('|')
	b.WriteString(m.DestIP)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(int(m.SourcePort)))
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(int(m.DestPort)))
	b.WriteByte('|')
	b.WriteString(m.Protocol)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(m.Timestamp.UnixMilli(), 10))
	return b.String()
}

// BatchUpsertMetrics writes `metrics` with one unordered BulkWrite (the driver splits it
// into commands within the server's limits). Any write error fails the whole call.
func (a *MetricsAgent) BatchUpsertMetrics(metrics []Metric) (UpsertStats, error) {
	models := make([]mongo.WriteModel, 0, len(metrics))
	for i := range metrics {
		m := &metrics[i]
		var model *mongo.UpdateOneModel
		if a.filter == FilterID {
			model = mongo.NewUpdateOneModel().
				SetFilter(bson.D{{Key: "_id", Value: metricID(m)}}).
				SetUpdate(bson.D{
					{Key: "$setOnInsert", Value: bson.D{
						{Key: "source_ip", Value: m.SourceIP},
						{Key: "dest_ip", Value: m.DestIP},
						{Key: "source_port", Value: m.SourcePort},
						{Key: "dest_port", Value: m.DestPort},
						{Key: "protocol", Value: m.Protocol},
						{Key: "timestamp", Value: m.Timestamp},
					}},
					{Key: "$set", Value: bson.D{{Key: "value", Value: m.Value}}},
				})
		} else {
			model = mongo.NewUpdateOneModel().
				SetFilter(bson.D{
					{Key: "source_ip", Value: m.SourceIP},
					{Key: "dest_ip", Value: m.DestIP},
					{Key: "source_port", Value: m.SourcePort},
					{Key: "dest_port", Value: m.DestPort},
					{Key: "protocol", Value: m.Protocol},
					{Key: "timestamp", Value: m.Timestamp},
				}).
				SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "value", Value: m.Value}}}})
		}
		models = append(models, model.SetUpsert(true))
	}
	ctx, cancel := context.WithTimeout(context.Background(), operationTimeout)
	defer cancel()
	res, err := a.collection.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return UpsertStats{}, fmt.Errorf("bulk write of %d metrics: %w", len(metrics), err)
	}
	return UpsertStats{Upserted: res.UpsertedCount, Matched: res.MatchedCount, Modified: res.ModifiedCount}, nil
}

func (a *MetricsAgent) Close(ctx context.Context) error {
	return a.client.Disconnect(ctx)
}
