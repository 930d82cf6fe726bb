// Package opendata publishes the twin's indicators as open data: a
// DCAT-AP_IT catalogue (JSON-LD and Turtle) of the datasets Ponte
// publishes, and daily CSV files of indicator history per area.
package opendata
