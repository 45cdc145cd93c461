/** The flags that together decide whether a variant may be sold right now. */
export interface SaleFlags {
  vendorActive: boolean;
  productActive: boolean;
  archived: boolean;
  variantActive: boolean;
}

/** Sellable = vendor, product and variant all active and the product not archived. */
export const isSellable = (f: SaleFlags) =>
  f.vendorActive && f.productActive && !f.archived && f.variantActive;

/** The title an order keeps and a replica shows: "T-shirt - Red / M", or the product's alone. */
export const lineTitle = (productTitle: string, variantTitle: string | null) =>
  variantTitle ? `${productTitle} - ${variantTitle}` : productTitle;
